// The engine worker's entry: owns the GPUDevice, the ORT sessions and the kernels (one Engine), and serves
// the page through Comlink (protocol.ts). Pixel buffers of image and preview events are transferred, not
// copied.
import * as Comlink from 'comlink';
import { InvalidArgumentError } from '../errors.ts';
import { GpuContext } from '../gpu/context.ts';
import { openUrlSource, type ModelSource } from '../model/source.ts';
import { openCachedFilesSource, openCachedModel, openCachedUrlSource } from '../storage/cached-source.ts';
import type { StorageEvent } from '../storage/events.ts';
import { Engine } from '../pipeline/engine.ts';
import type { JobEvent } from '../pipeline/events.ts';
import { installErrorTransfer } from './errors.ts';
import type { EngineWorkerApi, JobRequest, ModelLocation } from './protocol.ts';

installErrorTransfer();

let engine: Engine | null = null;
/** One GPU for the worker's lifetime: onnxruntime-web binds to the first device it is given. */
let gpu: Promise<GpuContext> | null = null;
const running = new Map<number, AbortController>();

function openSource(model: ModelLocation, onEvent?: (event: StorageEvent) => void): Promise<ModelSource> {
  const options = onEvent ? { onEvent } : {};
  if ('cached' in model) return openCachedModel(model.cached);
  if ('files' in model) return openCachedFilesSource(model.files, options);
  return model.cache === false ? openUrlSource(model.url) : openCachedUrlSource(model.url, options);
}

function loaded(): Engine {
  if (!engine) throw new InvalidArgumentError('the engine worker has no model loaded');
  return engine;
}

function jobEvents(request: JobRequest, signal: AbortSignal): AsyncIterable<JobEvent> {
  const e = loaded();
  switch (request.kind) {
    case 'imagine':
      return e.imagine({ ...request.options, signal });
    case 'chat':
      return e.chat({ ...request.options, signal });
    case 'vary':
      return e.vary({ ...request.options, signal });
  }
}

function transferables(event: JobEvent): Transferable[] {
  return event.type === 'image' || event.type === 'preview' ? [event.pixels.data.buffer as ArrayBuffer] : [];
}

const api: EngineWorkerApi = {
  async load(model: ModelLocation, onLoad, onDownload) {
    if (engine) await engine.dispose();
    engine = null;
    const source = await openSource(model, onDownload);
    gpu ??= GpuContext.create();
    engine = await Engine.create({ model: source, ctx: await gpu, ...(onLoad ? { onLoad } : {}) });
    return engine.info;
  },
  async start(id, request, onEvent) {
    const controller = new AbortController();
    running.set(id, controller);
    try {
      for await (const event of jobEvents(request, controller.signal)) {
        await onEvent(Comlink.transfer(event, transferables(event)));
      }
    } finally {
      running.delete(id);
    }
  },
  cancel(id) {
    running.get(id)?.abort(new DOMException('The job was cancelled', 'AbortError'));
  },
  bufferStats: () => loaded().bufferStats(),
  async dispose() {
    for (const controller of running.values()) controller.abort(new DOMException('The engine was disposed', 'AbortError'));
    await engine?.dispose();
    engine = null;
  },
};

Comlink.expose(api);
