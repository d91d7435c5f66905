// The page side of the engine worker: `createWorkerEngine` starts the worker, loads the model and returns a
// TarEngine — the same interface as the in-thread Engine — whose jobs stream events from the worker. An
// AbortSignal or leaving the event loop early cancels the job in the worker. A worker that fails to start is an
// EngineWorkerError, not a load that never ends.
import * as Comlink from 'comlink';
import { EngineWorkerError } from '../errors.ts';
import type { PoolStats } from '../gpu/buffer-pool.ts';
import { abortError } from '../pipeline/abort.ts';
import { EventChannel } from '../pipeline/channel.ts';
import type { EngineInfo, TarEngine } from '../pipeline/engine.ts';
import type { ChatEvent, ImagineEvent, JobEvent, VaryEvent } from '../pipeline/events.ts';
import type { ChatOptions, ImagineOptions, VaryOptions } from '../pipeline/options.ts';
import type { StorageEvent } from '../storage/events.ts';
import { installErrorTransfer } from './errors.ts';
import type { EngineWorkerApi, JobRequest, ModelLocation } from './protocol.ts';

export interface WorkerEngineOptions {
  model: ModelLocation;
  onLoad?: (component: string, loaded: number, total: number) => void;
  /** Download and cache progress (bytes per file and in total), while the package is fetched. */
  onDownload?: (event: StorageEvent) => void;
}

class WorkerEngine implements TarEngine {
  private nextId = 1;

  constructor(
    private readonly worker: Worker,
    private readonly remote: Comlink.Remote<EngineWorkerApi>,
    readonly info: EngineInfo,
  ) {}

  imagine(options: ImagineOptions): AsyncIterable<ImagineEvent> {
    const { signal, ...rest } = options;
    return this.run<ImagineEvent>({ kind: 'imagine', options: rest }, signal);
  }

  chat(options: ChatOptions): AsyncIterable<ChatEvent> {
    const { signal, ...rest } = options;
    return this.run<ChatEvent>({ kind: 'chat', options: rest }, signal);
  }

  vary(options: VaryOptions): AsyncIterable<VaryEvent> {
    const { signal, ...rest } = options;
    return this.run<VaryEvent>({ kind: 'vary', options: rest }, signal);
  }

  bufferStats(): Promise<PoolStats> {
    return this.remote.bufferStats();
  }

  async dispose(): Promise<void> {
    await this.remote.dispose();
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }

  private run<E extends JobEvent>(request: JobRequest, signal: AbortSignal | undefined): AsyncIterable<E> {
    const id = this.nextId++;
    const cancel = () => void this.remote.cancel(id);
    const channel = new EventChannel<E>(cancel);
    if (signal?.aborted) {
      channel.fail(abortError(signal.reason));
      return channel;
    }
    signal?.addEventListener('abort', cancel, { once: true });
    this.remote
      .start(id, request, Comlink.proxy((event) => channel.push(event as E)))
      .then(
        () => channel.close(),
        (error: unknown) => channel.fail(error),
      )
      .finally(() => signal?.removeEventListener('abort', cancel));
    return channel;
  }
}

/** Starts the engine worker and loads `options.model` in it. */
export async function createWorkerEngine(options: WorkerEngineOptions): Promise<TarEngine> {
  installErrorTransfer();
  const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'tar-engine' });
  const remote = Comlink.wrap<EngineWorkerApi>(worker);
  const failure = startFailure(worker);
  try {
    const loading = remote.load(
      options.model,
      options.onLoad ? Comlink.proxy(options.onLoad) : undefined,
      options.onDownload ? Comlink.proxy(options.onDownload) : undefined,
    );
    const info = await Promise.race([loading, failure.failed]);
    return new WorkerEngine(worker, remote, info);
  } catch (error) {
    worker.terminate();
    throw error;
  } finally {
    failure.stop();
  }
}

/** Rejects with an EngineWorkerError at the worker's first 'error' event: its script did not load (no answer to
 *  `load` would ever come), or an error escaped while the engine loaded (the load is given up rather than
 *  trusted); `stop` stops listening. */
function startFailure(worker: Worker): { failed: Promise<never>; stop: () => void } {
  let stop = (): void => undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    const onError = (event: Event): void => {
      const why = event instanceof ErrorEvent && event.message ? event.message : 'its script did not load';
      reject(new EngineWorkerError(`the engine worker could not start: ${why}`));
    };
    worker.addEventListener('error', onError);
    stop = () => worker.removeEventListener('error', onError);
  });
  return { failed, stop };
}
