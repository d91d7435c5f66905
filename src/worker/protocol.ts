// The typed boundary between the page and the engine worker. Jobs are started with an id and a callback
// (a Comlink proxy) that receives each event; a job's promise settles when it ends. Options travel without
// their AbortSignal: the page cancels by id.
import type { PoolStats } from '../gpu/buffer-pool.ts';
import type { ChatOptions, ImagineOptions, VaryOptions } from '../pipeline/options.ts';
import type { ChatEvent, ImagineEvent, VaryEvent } from '../pipeline/events.ts';
import type { EngineInfo } from '../pipeline/engine.ts';
import type { StorageEvent } from '../storage/events.ts';

export type WithoutSignal<T> = Omit<T, 'signal'>;

export type JobRequest =
  | { kind: 'imagine'; options: WithoutSignal<ImagineOptions> }
  | { kind: 'chat'; options: WithoutSignal<ChatOptions> }
  | { kind: 'vary'; options: WithoutSignal<VaryOptions> };

export type JobEventOf<R extends JobRequest> = R['kind'] extends 'imagine'
  ? ImagineEvent
  : R['kind'] extends 'chat'
    ? ChatEvent
    : VaryEvent;

/** Where the worker loads the model from: a URL (downloaded into the IndexedDB cache, resumable and verified,
 *  unless `cache` is false), files the page picked (File objects are cloneable; cached too), or a model already
 *  in the cache by its key (no network). */
export type ModelLocation = { url: string; cache?: boolean } | { files: File[] } | { cached: string };

export interface EngineWorkerApi {
  load(
    model: ModelLocation,
    onLoad?: (component: string, loaded: number, total: number) => void,
    onDownload?: (event: StorageEvent) => void,
  ): Promise<EngineInfo>;
  start(id: number, request: JobRequest, onEvent: (event: ImagineEvent | ChatEvent | VaryEvent) => void): Promise<void>;
  cancel(id: number): void;
  bufferStats(): Promise<PoolStats>;
  dispose(): Promise<void>;
}
