// The conversation as the page shows it: questions with their image thumbnails, answers streaming in token by
// token, pictures drawn inline (previews on a canvas, then the PNG). All text is set with textContent.
import type { RgbaImage } from '../../pipeline/events.ts';
import { toImageData } from '../png.ts';
import type { StoredMessage } from './store.ts';

export interface TranscriptActions {
  /** "Ask about this" on a drawn picture. */
  askAbout(picture: Blob): void;
}

export interface AnswerView {
  append(text: string): void;
  /** Shows the answer as stored (the same view a reload gives). */
  finish(message: StoredMessage): void;
}

export interface DrawingView {
  preview(pixels: RgbaImage): void;
  finish(message: StoredMessage): void;
  stop(): void;
}

export class Transcript {
  constructor(
    private readonly log: HTMLElement,
    private readonly actions: TranscriptActions,
  ) {}

  show(messages: readonly StoredMessage[]): void {
    this.releaseUrls();
    this.log.replaceChildren(...messages.map((m) => this.render(m)));
    this.scroll();
  }

  add(message: StoredMessage): void {
    this.log.append(this.render(message));
    this.scroll();
  }

  /** An answer that streams in; aria-busy keeps screen readers from reading every token. */
  startAnswer(): AnswerView {
    const article = this.article('assistant');
    article.setAttribute('aria-busy', 'true');
    const text = paragraph('text', '');
    const cursor = paragraph('note', 'Thinking…');
    article.append(text, cursor);
    this.log.append(article);
    this.scroll();
    return {
      append: (piece) => {
        if (piece === '') return;
        cursor.textContent = 'Answering…';
        text.append(piece);
        this.scroll();
      },
      finish: (message) => {
        article.replaceWith(this.render(message));
        this.scroll();
      },
    };
  }

  /** A picture being drawn: previews paint one canvas, then the stored message replaces it. */
  startDrawing(prompt: string): DrawingView {
    const article = this.article('assistant');
    article.setAttribute('aria-busy', 'true');
    const canvas = document.createElement('canvas');
    canvas.className = 'picture preview';
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Preview of the picture for: ${prompt}`);
    canvas.hidden = true;
    const note = paragraph('note', 'Drawing…');
    article.append(canvas, note);
    this.log.append(article);
    this.scroll();
    return {
      preview: (pixels) => {
        paint(canvas, pixels);
        canvas.hidden = false;
        this.scroll();
      },
      finish: (message) => {
        article.replaceWith(this.render(message));
        this.scroll();
      },
      stop: () => {
        article.removeAttribute('aria-busy');
        canvas.remove();
        note.textContent = 'Drawing stopped.';
      },
    };
  }

  /** A problem in plain words, shown in the conversation (not stored). */
  error(text: string): void {
    const article = this.article('error');
    article.setAttribute('role', 'alert');
    article.append(paragraph('text', text));
    this.log.append(article);
    this.scroll();
  }

  private render(message: StoredMessage): HTMLElement {
    const article = this.article(message.role);
    if (message.role === 'user') {
      if (message.images.length > 0) article.append(this.thumbnails(message.images));
      const text = message.kind === 'draw' ? `Draw: ${message.text}` : message.text;
      if (text !== '') article.append(paragraph('text', text));
    } else if (message.kind === 'draw') {
      for (const picture of message.images) article.append(this.picture(picture, message));
    } else {
      article.append(paragraph('text', message.text));
      const note = answerNote(message);
      if (note) article.append(paragraph('note', note));
    }
    return article;
  }

  private article(role: 'user' | 'assistant' | 'error'): HTMLElement {
    const article = document.createElement('article');
    article.className = `message ${role}`;
    article.setAttribute('aria-label', role === 'user' ? 'You' : role === 'assistant' ? 'Tar' : 'Problem');
    return article;
  }

  /** Revokes the shown images' object URLs, each once its image has finished loading. */
  private releaseUrls(): void {
    for (const img of this.log.querySelectorAll('img')) {
      const url = img.src;
      if (!url.startsWith('blob:')) continue;
      const revoke = () => URL.revokeObjectURL(url);
      if (img.complete) revoke();
      else {
        img.addEventListener('load', revoke, { once: true });
        img.addEventListener('error', revoke, { once: true });
      }
    }
  }

  private thumbnails(images: readonly Blob[]): HTMLElement {
    const list = document.createElement('ul');
    list.className = 'thumbnails';
    images.forEach((blob, i) => {
      const item = document.createElement('li');
      const img = document.createElement('img');
      img.src = URL.createObjectURL(blob);
      img.alt = `Your image ${i + 1}`;
      item.append(img);
      list.append(item);
    });
    return list;
  }

  private picture(blob: Blob, message: StoredMessage): HTMLElement {
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.className = 'picture';
    const url = URL.createObjectURL(blob);
    img.src = url;
    img.alt = `Picture drawn for: ${message.text}`;
    const caption = document.createElement('figcaption');
    const save = document.createElement('a');
    save.href = url;
    save.download = `tar-picture-${message.seed ?? 'drawn'}.png`;
    save.textContent = 'Save PNG';
    const ask = document.createElement('button');
    ask.type = 'button';
    ask.textContent = 'Ask about this';
    ask.addEventListener('click', () => this.actions.askAbout(blob));
    caption.append(paragraph('note', message.seed !== undefined ? `Seed ${message.seed}` : ''), save, ask);
    figure.append(img, caption);
    return figure;
  }

  private scroll(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

/** The note under a chat answer: that it was stopped, or that the model gave nothing to read (it ended its
 *  turn at once, or wrote only blanks); null for an answer that simply ended. */
function answerNote(message: StoredMessage): string | null {
  const blank = message.text.trim() === '';
  if (message.stopped) return blank ? 'Stopped before any answer came.' : 'Stopped.';
  return blank ? 'The model gave no answer.' : null;
}

function paint(canvas: HTMLCanvasElement, pixels: RgbaImage): void {
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  canvas.getContext('2d')?.putImageData(toImageData(pixels), 0, 0);
}

function paragraph(className: string, text: string): HTMLParagraphElement {
  const p = document.createElement('p');
  p.className = className;
  p.textContent = text;
  return p;
}
