// <tar-image-chat>: a conversation about pictures. Pick, drop or paste images, type a question, and the
// answer streams in; the whole conversation is the context of the next turn. Text is set with textContent
// only. Attributes: model (package URL, required), max-tokens, seed, views (test-time views of each picture; default
// the package's). Events: progress, token, done, error.
// Methods: generate() (sends what is in the box), send(text, images), cancel(), clear().
import type { ChatMessage } from '../../pipeline/options.ts';
import { TarElement, element, numberAttribute } from './base.ts';

const CSS = `
.messages { list-style: none; margin: 0 0 0.5rem; padding: 0; display: flex; flex-direction: column; gap: 0.5rem;
  max-height: var(--tar-chat-height, 24rem); overflow-y: auto; }
.messages li { padding: 0.5rem; border-radius: var(--tar-radius); border: 1px solid var(--tar-border); overflow-wrap: anywhere; }
.messages li.user { background: #eef2fb; align-self: flex-end; max-width: 90%; }
.messages li.assistant { align-self: flex-start; max-width: 90%; }
.who { font-weight: bold; display: block; }
.text { white-space: pre-wrap; margin: 0.25rem 0 0; }
.thumbs { display: flex; flex-wrap: wrap; gap: 0.25rem; list-style: none; margin: 0; padding: 0; flex-basis: 100%; }
.thumbs img, .messages img { width: 64px; height: 64px; object-fit: cover; border-radius: var(--tar-radius); }
.thumbs li { display: flex; align-items: center; gap: 0.25rem; }
:host(.dragging) form { outline: 3px dashed var(--tar-accent); }
`;

/** A message as the element keeps it: images as the Blobs the person gave. */
export interface TarChatMessage {
  role: 'user' | 'assistant';
  text: string;
  images: Blob[];
}

export class TarImageChat extends TarElement {
  private readonly list = element('ol', { className: 'messages' });
  private readonly input = element('textarea', { name: 'message', rows: 2, placeholder: 'Ask about a picture…' });
  private readonly fileInput = element('input', { type: 'file', accept: 'image/*', multiple: true, className: 'visually-hidden', tabIndex: -1 });
  private readonly pickButton = element('button', { type: 'button', className: 'secondary', textContent: 'Add image' });
  private readonly sendButton = element('button', { type: 'submit', textContent: 'Send' });
  private readonly stopButton = element('button', { type: 'button', className: 'secondary', textContent: 'Stop', disabled: true });
  private readonly thumbs = element('ul', { className: 'thumbs' });
  private pending: Blob[] = [];
  private history: TarChatMessage[] = [];
  /** The last send(), so that a new one starts after the one it cancels has tidied up. */
  private sending: Promise<unknown> = Promise.resolve();
  private readonly urls = new Map<Blob, string>();

  constructor() {
    super();
    this.list.setAttribute('role', 'log');
    this.list.setAttribute('aria-label', 'Conversation');
    this.thumbs.setAttribute('aria-label', 'Images to send');
    this.fileInput.setAttribute('aria-hidden', 'true');
    const form = element('form', {}, element('label', {}, 'Message', this.input), this.pickButton, this.fileInput, this.sendButton, this.stopButton, this.thumbs);
    form.part.add('form');
    this.list.part.add('messages');
    this.input.part.add('input');
    this.sendButton.part.add('send');
    this.stopButton.part.add('cancel');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.generate();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!this.busy) form.requestSubmit();
      }
    });
    this.input.addEventListener('paste', (event) => this.addImages(event.clipboardData?.files));
    this.pickButton.addEventListener('click', () => this.fileInput.click());
    this.fileInput.addEventListener('change', () => {
      this.addImages(this.fileInput.files);
      this.fileInput.value = '';
    });
    this.stopButton.addEventListener('click', () => this.cancel());
    this.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      this.classList.add('dragging');
    });
    this.addEventListener('dragleave', () => this.classList.remove('dragging'));
    this.addEventListener('drop', (event) => {
      this.classList.remove('dragging');
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.addImages(event.dataTransfer.files);
    });
    this.mount([element('style', { textContent: CSS }), this.list, form], []);
  }

  /** The conversation so far (a copy). */
  get messages(): TarChatMessage[] {
    return this.history.map((m) => ({ ...m, images: [...m.images] }));
  }

  /** Sends the text and images in the box (as the Send button does). Resolves with the answer. */
  generate(): Promise<string> {
    const text = this.input.value;
    const images = this.pending;
    if (!text.trim() && images.length === 0) {
      this.setStatus('Type a question or add an image first.');
      this.input.focus();
      return Promise.resolve('');
    }
    this.input.value = '';
    this.setPending([]);
    return this.enqueue(text, images, true);
  }

  /** Adds a user turn and streams the answer (a running answer is stopped first). Resolves with the answer
   *  ('' when cancelled before any text, or failed: the `error` event says why); never rejects. */
  send(text: string, images: Blob[] = []): Promise<string> {
    return this.enqueue(text, images, false);
  }

  /** `fromBox`: the turn came from the message box, which gets it back when nothing was answered. */
  private enqueue(text: string, images: Blob[], fromBox: boolean): Promise<string> {
    this.cancel();
    const answer = this.sending.then(() => this.exchange(text, images, fromBox));
    this.sending = answer;
    return answer;
  }

  private async exchange(text: string, images: Blob[], fromBox: boolean): Promise<string> {
    const user: TarChatMessage = { role: 'user', text, images };
    const userItem = this.renderMessage(user);
    const answer = element('p', { className: 'text' });
    const answerItem = element('li', { className: 'assistant' }, element('span', { className: 'who', textContent: 'Tar' }), answer);
    answerItem.setAttribute('aria-busy', 'true');
    this.list.append(userItem, answerItem);
    this.history.push(user);
    const stream = answer.appendChild(document.createTextNode(''));
    let whole: string | undefined;
    const finished = await this.run(async (engine, signal) => {
      const messages: ChatMessage[] = this.history.map((m) => ({ role: m.role, text: m.text, images: m.images }));
      const options = { messages, signal, ...this.numbers() };
      for await (const event of engine.chat(options)) {
        if (event.type === 'progress') this.onJobProgress(event, 1);
        else if (event.type === 'token') {
          stream.appendData(event.text);
          this.list.scrollTop = this.list.scrollHeight;
          this.emit('token', { id: event.id, text: event.text });
        } else if (event.type === 'done') {
          whole = event.text;
          this.emit('done', event.text === undefined ? { elapsedMs: event.elapsedMs } : { elapsedMs: event.elapsedMs, text: event.text });
        }
      }
    });
    answerItem.removeAttribute('aria-busy');
    const said = whole ?? stream.data;
    if (said.trim()) {
      if (!finished) answer.append(element('em', { textContent: ' (stopped)' }));
      this.history.push({ role: 'assistant', text: said, images: [] });
      return said;
    }
    // Nothing was said: take the question back so the conversation stays a clean list of turns.
    this.history.splice(this.history.indexOf(user), 1);
    userItem.remove();
    answerItem.remove();
    if (fromBox && !this.input.value) {
      this.input.value = text;
      this.setPending([...images, ...this.pending]);
    }
    return '';
  }

  /** Forgets the conversation (cancels a running answer). */
  clear(): void {
    this.cancel();
    this.history = [];
    this.list.replaceChildren();
    this.setPending([]);
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }

  protected setBusy(busy: boolean): void {
    const focused = this.root.activeElement;
    this.sendButton.disabled = busy;
    this.stopButton.disabled = !busy;
    if (busy && focused === this.sendButton) this.stopButton.focus();
    if (!busy && focused === this.stopButton) this.input.focus();
  }

  private numbers(): { maxNewTokens?: number; seed?: number; views?: number } {
    const out: { maxNewTokens?: number; seed?: number; views?: number } = {};
    const maxNewTokens = numberAttribute(this, 'max-tokens');
    const seed = numberAttribute(this, 'seed');
    const views = numberAttribute(this, 'views');
    if (maxNewTokens !== undefined) out.maxNewTokens = maxNewTokens;
    if (seed !== undefined) out.seed = seed;
    if (views !== undefined) out.views = views;
    return out;
  }

  private addImages(files: FileList | null | undefined): void {
    const images = [...(files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (images.length) this.setPending([...this.pending, ...images]);
  }

  private setPending(images: Blob[]): void {
    this.pending = images;
    this.thumbs.replaceChildren(
      ...images.map((image, i) => {
        const name = image instanceof File ? image.name : `image ${i + 1}`;
        const remove = element('button', { type: 'button', className: 'secondary', textContent: '×' });
        remove.setAttribute('aria-label', `Remove ${name}`);
        remove.addEventListener('click', () => {
          this.setPending(this.pending.filter((b) => b !== image));
          this.input.focus();
        });
        return element('li', {}, this.thumbnail(image, name), remove);
      }),
    );
  }

  private thumbnail(image: Blob, name: string): HTMLImageElement {
    let url = this.urls.get(image);
    if (!url) {
      url = URL.createObjectURL(image);
      this.urls.set(image, url);
    }
    return element('img', { src: url, alt: name });
  }

  private renderMessage(message: TarChatMessage): HTMLLIElement {
    const item = element('li', { className: message.role }, element('span', { className: 'who', textContent: message.role === 'user' ? 'You' : 'Tar' }));
    message.images.forEach((image, i) => item.append(this.thumbnail(image, image instanceof File ? image.name : `image ${i + 1}`)));
    if (message.text) item.append(element('p', { className: 'text', textContent: message.text }));
    return item;
  }
}
