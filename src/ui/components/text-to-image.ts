// <tar-text-to-image>: a prompt field, Generate and Cancel, and the pictures (live previews while drawing).
// Attributes: model (package URL, required), prompt, seed, scale (1, 2, 3 → 729, 169, 81 tokens for Tar),
// size, cfg, prompt-cfg, negative-prompt, count, candidates (the self-check's pictures per image), drawings (the
// de-tokenizer's drawings per picture, kept by TA-Tok's read-back), preview-rows (0: no previews). Events: progress, image,
// done, error. Methods: generate(), cancel().
import type { RgbaImage } from '../../pipeline/events.ts';
import type { ImagineOptions } from '../../pipeline/options.ts';
import { TarElement, element, numberAttribute } from './base.ts';
import type { TarImageDetail } from './events.ts';

const CSS = `
.images { display: flex; flex-wrap: wrap; gap: 0.5rem; }
canvas { width: min(100%, var(--tar-image-size, 256px)); height: auto; aspect-ratio: 1; image-rendering: pixelated;
  border: 1px solid var(--tar-border); border-radius: var(--tar-radius); background: #eee; }
`;

function draw(canvas: HTMLCanvasElement, pixels: RgbaImage): void {
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  canvas.getContext('2d')?.putImageData(new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height), 0, 0);
}

export class TarTextToImage extends TarElement {
  static readonly observedAttributes = ['prompt'];
  private readonly input = element('input', { type: 'text', name: 'prompt', autocomplete: 'off', placeholder: 'a red circle on the left and a blue square on the right' });
  private readonly generateButton = element('button', { type: 'submit', textContent: 'Generate' });
  private readonly cancelButton = element('button', { type: 'button', className: 'secondary', textContent: 'Cancel', disabled: true });
  private readonly images = element('div', { className: 'images' });

  constructor() {
    super();
    const form = element('form', {}, element('label', {}, 'Prompt', this.input), this.generateButton, this.cancelButton);
    form.part.add('form');
    this.input.part.add('prompt');
    this.generateButton.part.add('generate');
    this.cancelButton.part.add('cancel');
    this.images.part.add('images');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.generate();
    });
    this.cancelButton.addEventListener('click', () => this.cancel());
    this.mount([element('style', { textContent: CSS }), form], [this.images]);
  }

  attributeChangedCallback(name: string, _old: string | null, value: string | null): void {
    if (name === 'prompt') this.input.value = value ?? '';
  }

  /** The prompt: the field's current text (the `prompt` attribute sets it). */
  get prompt(): string {
    return this.input.value;
  }
  set prompt(value: string) {
    this.setAttribute('prompt', value);
  }

  get seed(): number | undefined {
    return numberAttribute(this, 'seed');
  }
  set seed(value: number | undefined) {
    if (value === undefined) this.removeAttribute('seed');
    else this.setAttribute('seed', String(value));
  }

  get scale(): number | undefined {
    return numberAttribute(this, 'scale');
  }
  set scale(value: number | undefined) {
    if (value === undefined) this.removeAttribute('scale');
    else this.setAttribute('scale', String(value));
  }

  get size(): number | undefined {
    return numberAttribute(this, 'size');
  }
  set size(value: number | undefined) {
    if (value === undefined) this.removeAttribute('size');
    else this.setAttribute('size', String(value));
  }

  /** Draws the prompt. A running request is cancelled first. Resolves with the finished images (none when
   *  cancelled or failed: the `error` event and the element say why); never rejects. */
  async generate(): Promise<TarImageDetail[]> {
    const prompt = this.prompt.trim();
    if (!prompt) {
      this.setStatus('Type what to draw first.');
      this.input.focus();
      return [];
    }
    const finished: TarImageDetail[] = [];
    await this.run(async (engine, signal) => {
      const options = this.options(prompt, signal);
      const count = options.count ?? 1;
      const canvases = Array.from({ length: count }, (_, i) => {
        const canvas = element('canvas', { width: 1, height: 1 });
        canvas.setAttribute('role', 'img');
        canvas.setAttribute('aria-label', `Drawing image ${i + 1} of ${count}: ${prompt}`);
        canvas.part.add('image');
        return canvas;
      });
      this.images.replaceChildren(...canvases);
      for await (const event of engine.imagine(options)) {
        if (event.type === 'progress') this.onJobProgress(event, count);
        else if (event.type === 'preview' && canvases[event.image]) draw(canvases[event.image]!, event.pixels);
        else if (event.type === 'image') {
          const canvas = canvases[event.image];
          if (canvas) {
            draw(canvas, event.pixels);
            canvas.setAttribute('aria-label', `Image ${event.image + 1} of ${count}: ${prompt} (seed ${event.seed})`);
          }
          const detail: TarImageDetail = {
            index: event.image,
            prompt,
            seed: event.seed,
            pixels: event.pixels,
            tokens: event.tokens,
            ...(event.selfCheck ? { selfCheck: event.selfCheck } : {}),
            ...(event.roundTrip ? { roundTrip: event.roundTrip } : {}),
          };
          finished.push(detail);
          this.emit('image', detail);
        } else if (event.type === 'done') this.emit('done', { elapsedMs: event.elapsedMs });
      }
    });
    return finished;
  }

  protected setBusy(busy: boolean): void {
    const focused = this.root.activeElement;
    this.generateButton.disabled = busy;
    this.cancelButton.disabled = !busy;
    if (busy && focused === this.generateButton) this.cancelButton.focus();
    if (!busy && focused === this.cancelButton) this.generateButton.focus();
  }

  private options(prompt: string, signal: AbortSignal): ImagineOptions {
    const options: ImagineOptions = { prompt, signal };
    const numbers = { seed: 'seed', scale: 'scale', size: 'size', cfg: 'cfg', promptCfg: 'prompt-cfg', count: 'count', candidates: 'candidates', drawings: 'drawings', previewEveryRows: 'preview-rows' } as const;
    for (const [key, attribute] of Object.entries(numbers) as [keyof typeof numbers, string][]) {
      const value = numberAttribute(this, attribute);
      if (value !== undefined) options[key] = value;
    }
    const negative = this.getAttribute('negative-prompt');
    if (negative !== null) options.negativePrompt = negative;
    return options;
  }
}
