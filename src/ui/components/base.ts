// What both Tar elements share: a shadow root with a status line, a progress bar and an error box; the
// `model` attribute resolved against the page; the page's ONE shared engine worker (engine-host.ts); one
// running request at a time with cancel(); typed CustomEvents. Subclasses build their own form and results.
import type { TarEngine } from '../../pipeline/engine.ts';
import type { Phase, ProgressEvent } from '../../pipeline/events.ts';
import type { StorageEvent } from '../../storage/events.ts';
import { sharedEngine, type EngineHostListeners } from '../engine-host.ts';
import { explainError, formatBytes, isAbort, type ErrorText } from '../errors-text.ts';
import type { TarEventDetails } from './events.ts';
import { BASE_CSS } from './styles.ts';

/** The element has no `model` attribute: there is no default package a page can rely on. */
class MissingModelError extends Error {
  constructor(tag: string) {
    super(`<${tag}> has no model attribute`);
    this.name = 'MissingModelError';
  }
}

const PHASE_WORDS: Record<Phase, string> = {
  load: 'Loading the model',
  encode: 'Reading the image',
  llm: 'Thinking',
  'tatok-decode': 'Decoding the image tokens',
  detokenize: 'Drawing',
  'vq-decode': 'Painting the pixels',
  'round-trip': 'Checking the drawing against its tokens',
  'self-check': 'Checking the picture against the prompt',
};

/** Reads a numeric attribute; absent → undefined, not a number → an error naming it. */
export function numberAttribute(element: Element, name: string): number | undefined {
  const raw = element.getAttribute(name);
  if (raw === null || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new RangeError(`the ${name} attribute "${raw}" is not a number`);
  return value;
}

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export abstract class TarElement extends HTMLElement {
  protected readonly root: ShadowRoot;
  private readonly statusLine = element('p', { className: 'status' });
  private readonly bar = element('progress', { hidden: true });
  private readonly errorBox = element('div', { className: 'error', hidden: true });
  private controller: AbortController | null = null;
  private lastPhase = '';
  private readonly hostListeners: EngineHostListeners = {
    onDownload: (event) => {
      if (this.busy) this.onDownload(event);
    },
    onLoad: (component, loaded, total) => {
      if (!this.busy) return;
      this.showProgress(`Loading the model (${component})`, loaded, total);
      this.emit('progress', { stage: 'load', component, loaded, total });
    },
  };

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    this.statusLine.setAttribute('role', 'status');
    this.statusLine.setAttribute('aria-live', 'polite');
    this.errorBox.setAttribute('role', 'alert');
    this.statusLine.part.add('status');
    this.bar.part.add('progress');
    this.bar.setAttribute('aria-label', 'Progress');
    this.errorBox.part.add('error');
  }

  /** Fills the shadow root: `before` (the form) above the status line, `after` (images, messages) below. */
  protected mount(before: Node[], after: Node[]): void {
    this.root.append(element('style', { textContent: BASE_CSS }), ...before, this.statusLine, this.bar, this.errorBox, ...after);
  }

  /** Called when a request starts or ends, to enable and disable buttons. */
  protected abstract setBusy(busy: boolean): void;

  /** The model package URL, as written (resolved against the page when used). */
  get model(): string {
    return this.getAttribute('model') ?? '';
  }
  set model(value: string) {
    this.setAttribute('model', value);
  }

  /** True while a request runs. */
  get busy(): boolean {
    return this.controller !== null;
  }

  /** Stops the running request (its promise settles; no `error` event). Does nothing when idle. */
  cancel(): void {
    this.controller?.abort();
  }

  protected emit<K extends keyof TarEventDetails>(type: K, detail: TarEventDetails[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  protected setStatus(text: string): void {
    this.statusLine.textContent = text;
  }

  /** Job progress: the status line changes per phase (not per token, for screen readers), the bar per step. */
  protected onJobProgress(event: ProgressEvent, imageCount: number): void {
    const which = imageCount > 1 ? ` (image ${event.image + 1} of ${imageCount})` : '';
    this.showProgress(`${PHASE_WORDS[event.phase]}${which}…`, event.done, event.total);
    const { phase, image, done, total, elapsedMs } = event;
    this.emit('progress', { stage: 'job', phase, image, done, total, elapsedMs });
  }

  /** Runs one request on the shared engine: cancels the one before, shows errors, never rejects.
   *  Resolves true when the request finished, false when it was cancelled or failed. */
  protected async run(job: (engine: TarEngine, signal: AbortSignal) => Promise<void>): Promise<boolean> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.errorBox.hidden = true;
    this.lastPhase = '';
    this.setStatus('Starting…');
    this.setBusy(true);
    try {
      const engine = await this.engine();
      controller.signal.throwIfAborted();
      await job(engine, controller.signal);
      this.setStatus('Done.');
      return true;
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) this.setStatus('Cancelled.');
      else this.fail(error);
      return false;
    } finally {
      this.bar.hidden = true;
      if (this.controller === controller) {
        this.controller = null;
        this.setBusy(false);
      }
    }
  }

  protected fail(error: unknown): void {
    const text = this.explain(error);
    this.setStatus(text.title);
    this.errorBox.replaceChildren(
      element('p', { textContent: text.title }),
      element('p', { textContent: text.action }),
      ...(text.detail ? [element('p', { className: 'detail', textContent: text.detail })] : []),
    );
    this.errorBox.hidden = false;
    this.emit('error', { error, ...text });
  }

  private explain(error: unknown): ErrorText {
    if (error instanceof MissingModelError) {
      return {
        title: 'No model is set for this element.',
        action: 'Give it a model attribute with the URL of a Tar model package (the folder that holds manifest.json).',
        detail: error.message,
      };
    }
    if (error instanceof RangeError) {
      return { title: 'One of the element’s attributes is not valid.', action: 'Fix the attribute named below.', detail: error.message };
    }
    return explainError(error);
  }

  private engine(): Promise<TarEngine> {
    const model = this.getAttribute('model');
    if (!model) return Promise.reject(new MissingModelError(this.localName));
    const url = new URL(model.endsWith('/') ? model : `${model}/`, document.baseURI).href;
    return sharedEngine({ url }, this.hostListeners);
  }

  private onDownload(event: StorageEvent): void {
    if (event.type === 'manifest') {
      this.showProgress(`Downloading the model (${formatBytes(event.totalBytes)})…`, event.cachedBytes, event.totalBytes);
      this.emit('progress', { stage: 'download', loaded: event.cachedBytes, total: event.totalBytes });
    } else if (event.type === 'progress') {
      this.showProgress(`Downloading the model (${formatBytes(event.total)})…`, event.loaded, event.total);
      this.emit('progress', { stage: 'download', loaded: event.loaded, total: event.total });
    }
  }

  private showProgress(words: string, done: number, total: number): void {
    if (words !== this.lastPhase) {
      this.lastPhase = words;
      this.setStatus(words);
    }
    this.bar.hidden = false;
    this.bar.max = Math.max(total, 1);
    this.bar.value = Math.min(done, this.bar.max);
  }
}
