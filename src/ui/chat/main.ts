// The image chat page: wires the composer (text, attached images, Draw), the transcript, the conversation
// list and the shared engine. A message is either a question (engine.chat, the whole conversation as
// ChatMessage[], the answer streamed token by token) or a picture request (engine.imagine, previews, then the
// PNG inline); see draw-rule.ts. Every change is saved to IndexedDB.
import type { TarEngine } from '../../pipeline/engine.ts';
import { isAbort } from '../errors-text.ts';
import { rgbaToPng } from '../png.ts';
import { installPwa } from '../pwa.ts';
import { Attachments } from './attachments.ts';
import { chatErrorText } from './chat-errors.ts';
import { chatMessages } from './context.ts';
import { ConversationList } from './conversation-list.ts';
import { parseRequest } from './draw-rule.ts';
import { startEngine } from './engine-status.ts';
import { downloadConversation } from './export.ts';
import {
  deleteConversation,
  listConversations,
  loadConversation,
  newConversation,
  newId,
  saveConversation,
  type Conversation,
  type StoredMessage,
} from './store.ts';
import { Transcript } from './transcript.ts';

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`chat.html has no #${id}`);
  return element as T;
}

const form = byId<HTMLFormElement>('composer');
const message = byId<HTMLTextAreaElement>('message');
const send = byId<HTMLButtonElement>('send');
const stop = byId<HTMLButtonElement>('stop');
const draw = byId<HTMLButtonElement>('draw');
const maxTokens = byId<HTMLSelectElement>('max-tokens');
const scale = byId<HTMLSelectElement>('scale');
const views = byId<HTMLInputElement>('views');
const composerStatus = byId<HTMLElement>('composer-status');
const say = (text: string) => (composerStatus.textContent = text);

installPwa();
const engine = startEngine(byId('engine-status'), byId<HTMLProgressElement>('engine-progress'), scale, views);
engine.catch(() => undefined);

const attachments = new Attachments(byId<HTMLUListElement>('attachments'), say, message);
attachments.listen(byId('chat'), byId<HTMLInputElement>('file'));

const transcript = new Transcript(byId('transcript'), {
  askAbout: (picture) => {
    attachments.add([picture]);
    message.focus();
  },
});

let current: Conversation | null = null;
let running: AbortController | null = null;
/** Conversations deleted while their job was still running: not saved again when it ends. */
const deleted = new Set<string>();

const list = new ConversationList(byId<HTMLUListElement>('conversations'), {
  open: (id) => void open(id),
  export: (id) => void exportConversation(id),
  remove: (id) => void remove(id),
});

async function refreshList(): Promise<void> {
  list.show(await listConversations(), current?.id ?? null);
}

function show(conversation: Conversation | null): void {
  running?.abort();
  current = conversation;
  transcript.show(conversation?.messages ?? []);
  void refreshList();
}

async function open(id: string): Promise<void> {
  show((await loadConversation(id)) ?? null);
  message.focus();
}

async function exportConversation(id: string): Promise<void> {
  const conversation = await loadConversation(id);
  if (!conversation) return;
  await downloadConversation(conversation);
  say(`Exported “${conversation.title}”.`);
}

async function remove(id: string): Promise<void> {
  deleted.add(id);
  await deleteConversation(id);
  if (current?.id === id) show(null);
  else await refreshList();
  say('Conversation deleted.');
  message.focus();
}

function setBusy(busy: boolean): void {
  const focusWasOn = document.activeElement;
  send.hidden = busy;
  stop.hidden = !busy;
  if (busy && focusWasOn === send) stop.focus();
  if (!busy && focusWasOn === stop) message.focus();
}

async function answer(engineReady: TarEngine, conversation: Conversation, signal: AbortSignal): Promise<void> {
  const view = transcript.startAnswer();
  let text = '';
  let stopped = false;
  let failure: unknown = null;
  try {
    const events = engineReady.chat({ messages: chatMessages(conversation.messages), maxNewTokens: Number(maxTokens.value), views: Number(views.value), signal });
    for await (const event of events) {
      if (event.type === 'token') {
        if (text === '') say('Answering… (Esc stops)');
        text += event.text;
        view.append(event.text);
      } else if (event.type === 'progress' && event.phase === 'encode') say(`Reading image ${event.done} of ${event.total}…`);
      else if (event.type === 'done') text = event.text ?? text;
    }
  } catch (error) {
    stopped = true;
    if (!isAbort(error)) failure = error;
  }
  const reply: StoredMessage = { id: newId(), role: 'assistant', kind: 'chat', text, images: [], ...(stopped ? { stopped } : {}) };
  view.finish(reply);
  conversation.messages.push(reply);
  if (failure) throw failure;
  say(stopped ? 'Answer stopped.' : 'Answer complete.');
}

async function drawPicture(engineReady: TarEngine, conversation: Conversation, prompt: string, signal: AbortSignal): Promise<void> {
  const view = transcript.startDrawing(prompt);
  const side = engineReady.info.manifest.components.ardtok?.config.gridSize ?? 16;
  let picture: { png: Blob; seed: number } | null = null;
  try {
    const events = engineReady.imagine({ prompt, scale: Number(scale.value), count: 1, previewEveryRows: Math.ceil(side / 3), signal });
    for await (const event of events) {
      if (event.type === 'progress') {
        if (event.phase === 'llm') say(`Choosing picture tokens: ${event.done} of ${event.total}…`);
        else if (event.phase === 'detokenize') say(`Drawing: ${event.done} of ${event.total}…`);
        else if (event.phase === 'vq-decode') say('Finishing the picture…');
      } else if (event.type === 'preview') view.preview(event.pixels);
      else if (event.type === 'image') picture = { png: await rgbaToPng(event.pixels), seed: event.seed };
    }
  } catch (error) {
    view.stop();
    if (isAbort(error)) {
      say('Drawing stopped.');
      return;
    }
    throw error;
  }
  if (!picture) return;
  const drawn: StoredMessage = { id: newId(), role: 'assistant', kind: 'draw', text: prompt, images: [picture.png], seed: picture.seed };
  conversation.messages.push(drawn);
  view.finish(drawn);
  say('Picture drawn.');
}

async function submit(): Promise<void> {
  if (running) {
    say('Wait for the answer to finish, or press Stop (Esc).');
    return;
  }
  const images = attachments.blobs;
  const request = parseRequest(message.value, draw.getAttribute('aria-pressed') === 'true');
  if (request.kind === 'chat' && request.text.trim() === '' && images.length === 0) return void say('Type a question or attach an image first.');
  if (request.kind === 'draw' && request.prompt === '') return void say('Say what to draw, for example: /draw a red circle on the left and a blue square on the right.');
  if (request.kind === 'draw' && images.length > 0) {
    return void say('Pictures are drawn from words alone: remove the attached images, or turn Draw off to ask about them.');
  }
  const conversation = current ?? newConversation();
  current = conversation;
  const question: StoredMessage = {
    id: newId(),
    role: 'user',
    kind: request.kind,
    text: request.kind === 'draw' ? request.prompt : request.text,
    images,
  };
  conversation.messages.push(question);
  transcript.add(question);
  message.value = '';
  attachments.clear();
  // Busy from the moment the question is sent: Esc stops it, and a second Enter waits, even while it is saved.
  const controller = new AbortController();
  running = controller;
  setBusy(true);
  say(request.kind === 'draw' ? 'Drawing… (Esc stops)' : 'Thinking… (Esc stops)');
  try {
    await saveConversation(conversation);
    await refreshList();
    const ready = await engine;
    if (request.kind === 'draw') await drawPicture(ready, conversation, request.prompt, controller.signal);
    else await answer(ready, conversation, controller.signal);
  } catch (error) {
    // The transcript's alert announces the problem; the status line would only repeat it.
    if (current === conversation) transcript.error(chatErrorText(error));
    say('');
  } finally {
    if (running === controller) running = null;
    setBusy(false);
    if (!deleted.has(conversation.id)) await saveConversation(conversation);
    await refreshList();
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void submit();
});
message.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && running) running.abort();
});
stop.addEventListener('click', () => running?.abort());
draw.addEventListener('click', () => {
  const on = draw.getAttribute('aria-pressed') !== 'true';
  draw.setAttribute('aria-pressed', String(on));
  message.placeholder = on ? 'Describe the picture to draw' : 'Ask about your images, or /draw a red circle on the left and a blue square on the right';
});
byId('new-conversation').addEventListener('click', () => {
  show(null);
  message.focus();
});

void listConversations().then((all) => show(all[0] ?? null));
