// One engine worker per page, shared by every page script and custom element that asks for the same model:
// the first caller starts it, later callers get the same promise. Switching models disposes the old worker.
// Not a UI: callers render progress and errors themselves.
import type { TarEngine } from '../pipeline/engine.ts';
import type { StorageEvent } from '../storage/events.ts';
import { createWorkerEngine } from '../worker/client.ts';
import type { ModelLocation } from '../worker/protocol.ts';

/** The embedded default model, served with the app. */
export const DEFAULT_MODEL_URL = new URL('/models/tar-shapes/', location.href).href;

export interface EngineHostListeners {
  onDownload?: (event: StorageEvent) => void;
  onLoad?: (component: string, loaded: number, total: number) => void;
}

interface Hosted {
  key: string;
  engine: Promise<TarEngine>;
  listeners: Set<EngineHostListeners>;
}

let hosted: Hosted | null = null;

function keyOf(model: ModelLocation): string {
  if ('url' in model) return `url:${new URL(model.url, location.href).href}`;
  if ('cached' in model) return `cached:${model.cached}`;
  return `files:${model.files.map((f) => `${f.name}:${f.size}`).join('|')}`;
}

/** The shared engine for `model` (default: the embedded model); `listeners` hear its download and load. */
export function sharedEngine(model: ModelLocation = { url: DEFAULT_MODEL_URL }, listeners: EngineHostListeners = {}): Promise<TarEngine> {
  const key = keyOf(model);
  if (hosted?.key === key) {
    hosted.listeners.add(listeners);
    return hosted.engine;
  }
  const previous = hosted;
  const listenerSet = new Set<EngineHostListeners>([listeners]);
  const engine = (async () => {
    if (previous) await (await previous.engine.catch(() => null))?.dispose();
    return createWorkerEngine({
      model,
      onDownload: (event) => listenerSet.forEach((l) => l.onDownload?.(event)),
      onLoad: (component, loaded, total) => listenerSet.forEach((l) => l.onLoad?.(component, loaded, total)),
    });
  })();
  const entry: Hosted = { key, engine, listeners: listenerSet };
  hosted = entry;
  engine.catch(() => {
    if (hosted === entry) hosted = null;
  });
  return engine;
}
