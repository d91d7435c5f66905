// The image gallery: one card per image of a job, newest job first. While an image is drawn its card shows
// the phase, a progress bar and live previews in a canvas; when it is done the card holds the PNG (an <img>
// from a Blob URL), its seed and size, and a "Save PNG" download link. Prompts are set as text only.
import type { ImageEvent, Phase, PreviewEvent, ProgressEvent, RgbaImage } from '../../pipeline/events.ts';
import { rgbaToPng, toImageData } from '../png.ts';
import { byId } from './dom.ts';

const PHASE_TEXT: Record<Phase, string> = {
  load: 'loading',
  encode: 'reading the image',
  llm: 'choosing image tokens',
  'tatok-decode': 'decoding the tokens',
  detokenize: 'drawing',
  'vq-decode': 'painting the pixels',
  'round-trip': 'checking the drawing against its tokens',
  'self-check': 'checking the picture against the prompt',
};

/** Files are named after the prompt's first words and the seed. */
function fileName(prompt: string, seed: number): string {
  const words = prompt.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'image';
  return `tar-${words}-${seed}.png`;
}

class Card {
  readonly item = document.createElement('li');
  private readonly figure = document.createElement('figure');
  private readonly canvas = document.createElement('canvas');
  private readonly caption = document.createElement('figcaption');
  private readonly phase = document.createElement('span');
  private readonly bar = document.createElement('progress');
  private url: string | null = null;
  done = false;

  constructor(
    private readonly prompt: string,
    private readonly index: number,
    private readonly count: number,
    size: number,
  ) {
    this.item.className = 'card';
    this.canvas.width = size;
    this.canvas.height = size;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', `Image ${index + 1} of ${count}, being drawn`);
    if (size < 128) this.canvas.classList.add('pixelated');
    this.phase.textContent = 'waiting…';
    this.bar.max = 1;
    this.bar.value = 0;
    this.bar.setAttribute('aria-label', `Progress of image ${index + 1}`);
    this.caption.append(this.phase, this.bar);
    this.figure.append(this.canvas, this.caption);
    this.item.append(this.figure);
  }

  progress(event: ProgressEvent): void {
    const of = this.count > 1 ? `Image ${this.index + 1} of ${this.count}: ` : '';
    this.phase.textContent = `${of}${PHASE_TEXT[event.phase]} ${event.done} / ${event.total}`;
    this.bar.max = Math.max(event.total, 1);
    this.bar.value = event.done;
  }

  preview(pixels: RgbaImage): void {
    this.canvas.width = pixels.width;
    this.canvas.height = pixels.height;
    this.canvas.getContext('2d')?.putImageData(toImageData(pixels), 0, 0);
  }

  async finish(event: ImageEvent, elapsedMs: number): Promise<void> {
    this.done = true;
    const { width, height } = event.pixels;
    this.preview(event.pixels);
    const blob = await rgbaToPng(event.pixels);
    this.url = URL.createObjectURL(blob);
    const image = document.createElement('img');
    image.src = this.url;
    image.width = width;
    image.height = height;
    image.alt = this.prompt;
    if (width < 128) image.classList.add('pixelated');
    const text = document.createElement('span');
    text.textContent = this.prompt;
    const meta = document.createElement('span');
    meta.className = 'hint';
    const kept = event.selfCheck ? ` · self-check kept picture ${event.selfCheck.candidate + 1} of ${event.selfCheck.scores.length}` : '';
    const drawn = event.roundTrip ? ` · round trip kept drawing ${event.roundTrip.drawing + 1} of ${event.roundTrip.agreements.length}` : '';
    meta.textContent = `seed ${event.seed} · ${width} × ${height} px · ${(elapsedMs / 1000).toFixed(1)} s${kept}${drawn}`;
    const save = document.createElement('a');
    save.href = this.url;
    save.download = fileName(this.prompt, event.seed);
    save.textContent = 'Save PNG';
    save.setAttribute('aria-label', `Save image ${this.index + 1} (seed ${event.seed}) as PNG`);
    this.caption.replaceChildren(text, meta, save);
    this.canvas.replaceWith(image);
  }

  remove(): void {
    if (this.url) URL.revokeObjectURL(this.url);
    this.item.remove();
  }
}

/** The cards of one job. */
export class JobCards {
  private readonly start = performance.now();

  constructor(private readonly cards: Card[]) {}

  progress(event: ProgressEvent): void {
    this.cards[event.image]?.progress(event);
  }

  preview(event: PreviewEvent): void {
    this.cards[event.image]?.preview(event.pixels);
  }

  finish(event: ImageEvent): Promise<void> {
    return this.cards[event.image]?.finish(event, performance.now() - this.start) ?? Promise.resolve();
  }

  /** Removes the cards of images that never finished (the job was cancelled or failed). */
  dropUnfinished(): void {
    for (const card of this.cards) if (!card.done) card.remove();
  }
}

export class Gallery {
  private readonly list = byId('gallery', HTMLUListElement);
  private readonly empty = byId('gallery-empty', HTMLParagraphElement);
  private readonly clear = byId('clear-gallery', HTMLButtonElement);
  private cards: Card[] = [];

  /** `afterClear` moves keyboard focus on once Clear (now disabled) has emptied the gallery. */
  constructor(afterClear: () => void) {
    this.clear.addEventListener('click', () => {
      const [finished, running] = [this.cards.filter((c) => c.done), this.cards.filter((c) => !c.done)];
      finished.forEach((card) => card.remove());
      this.cards = running;
      this.update();
      afterClear();
    });
  }

  /** Cards for a new job, at the top of the gallery. */
  startJob(prompt: string, count: number, size: number): JobCards {
    const cards = Array.from({ length: count }, (_, i) => new Card(prompt, i, count, size));
    this.list.prepend(...cards.map((c) => c.item));
    this.cards.push(...cards);
    this.update();
    return new JobCards(cards);
  }

  /** Forgets cards that were removed (unfinished ones after a job ends). */
  update(): void {
    this.cards = this.cards.filter((c) => c.item.isConnected);
    this.empty.hidden = this.cards.length > 0;
    this.clear.disabled = !this.cards.some((c) => c.done);
  }
}
