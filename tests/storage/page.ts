// The page the weights-delivery tests drive (tests/gpu/storage.spec.ts): it runs the real caching source of
// src/storage/ in the browser and returns plain data (event summaries, typed errors, sha256 checks made
// with WebCrypto, independent of the incremental hasher under test).
import { describeErrorForTest, type ThrownError } from '../gpu/describe-error.ts';
import { clearCachedModels, deleteCachedModel, getChunk, getRecord, listCachedModels } from '../../src/storage/cache-db.ts';
import {
  openCachedFilesSource,
  openCachedModel,
  openCachedUrlSource,
  type CachedModelSource,
  type CachedSourceOptions,
} from '../../src/storage/cached-source.ts';
import type { StorageEvent } from '../../src/storage/events.ts';

export interface RunOptions {
  chunkBytes?: number;
  retryDelayMs?: number;
  maxRetries?: number;
  /** Abort once this many bytes are held in total. */
  abortAtLoaded?: number;
  /** Check every file against the manifest's sha256 with WebCrypto after opening. */
  verify?: boolean;
}

export interface RunReport {
  modelKey: string | null;
  error: ThrownError | null;
  /** Every event but `progress`. */
  events: StorageEvent[];
  progressEvents: number;
  lastProgress: StorageEvent | null;
  /** `loaded` never above `total`, and never decreasing except right after a restart. */
  progressConsistent: boolean;
  verified: { path: string; ok: boolean }[];
  ms: number;
}

async function hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function run(open: (options: CachedSourceOptions) => Promise<CachedModelSource>, options: RunOptions): Promise<RunReport> {
  const events: StorageEvent[] = [];
  let progressEvents = 0;
  let lastProgress: StorageEvent | null = null;
  let consistent = true;
  let lastLoaded = -1;
  const controller = new AbortController();
  const onEvent = (event: StorageEvent) => {
    if (event.type !== 'progress') {
      events.push(event);
      if (event.type === 'restart') lastLoaded = -1;
      return;
    }
    progressEvents++;
    lastProgress = event;
    if (event.loaded > event.total || event.fileLoaded > event.fileBytes || (lastLoaded >= 0 && event.loaded < lastLoaded)) consistent = false;
    lastLoaded = event.loaded;
    if (options.abortAtLoaded !== undefined && event.loaded >= options.abortAtLoaded) controller.abort();
  };
  const t0 = performance.now();
  let source: CachedModelSource | null = null;
  const error = await describeErrorForTest(async () => {
    source = await open({
      onEvent,
      signal: controller.signal,
      chunkBytes: options.chunkBytes,
      retryDelayMs: options.retryDelayMs ?? 5,
      maxRetries: options.maxRetries,
    });
  });
  const ms = performance.now() - t0;
  const verified: { path: string; ok: boolean }[] = [];
  const opened = source as CachedModelSource | null;
  if (opened && options.verify) {
    for (const entry of opened.manifest.files) {
      const bytes = await opened.file(entry.path);
      verified.push({ path: entry.path, ok: bytes.byteLength === entry.bytes && (await hex(bytes)) === entry.sha256 });
    }
  }
  return { modelKey: opened?.modelKey ?? null, error, events, progressEvents, lastProgress, progressConsistent: consistent, verified, ms };
}

export const storageTest = {
  openUrl: (base: string, options: RunOptions = {}) => run((o) => openCachedUrlSource(base, o), options),
  openPickedFolder: (options: RunOptions = {}) => {
    const input = document.getElementById('folder') as HTMLInputElement;
    return run((o) => openCachedFilesSource(Array.from(input.files ?? []), o), options);
  },
  /** Reads every file of a cached model, keeping none: `mode` file = assembled files, chunks = chunk by chunk. */
  async loadCached(modelKey: string, mode: 'file' | 'chunks'): Promise<{ ms: number; bytes: number }> {
    const t0 = performance.now();
    const source = await openCachedModel(modelKey);
    let bytes = 0;
    for (const entry of source.manifest.files) {
      if (mode === 'file') bytes += (await source.file(entry.path)).byteLength;
      else for await (const chunk of source.chunks(entry.path)) bytes += chunk.byteLength;
    }
    return { ms: performance.now() - t0, bytes };
  },
  /** Every file of a cached model read back with file() and checked with WebCrypto against the manifest. */
  async verifyCached(modelKey: string): Promise<boolean> {
    const source = await openCachedModel(modelKey);
    for (const entry of source.manifest.files) {
      if ((await hex(await source.file(entry.path))) !== entry.sha256) return false;
    }
    return true;
  },
  /** Chunk keys the record counts versus chunks present, per file (a consistent cache has none missing). */
  async consistency(modelKey: string): Promise<{ complete: boolean; counted: number; missing: number } | null> {
    const record = await getRecord(modelKey);
    if (!record) return null;
    let counted = 0;
    let missing = 0;
    for (const [path, progress] of Object.entries(record.files)) {
      for (let i = 0; i < progress.chunks; i++) {
        counted++;
        if (!(await getChunk(record.modelKey, path, i))) missing++;
      }
    }
    return { complete: record.complete, counted, missing };
  },
  /** VqDecoder loaded through the cache vs the plain URL source (tests/storage/engine-probe.ts). */
  vqFromCache: () => import('./engine-probe.ts').then((m) => m.vqFromCache()),
  cacheTiny: () => import('./engine-probe.ts').then((m) => m.cacheTiny()),
  list: () => listCachedModels(),
  remove: (modelKey: string) => deleteCachedModel(modelKey),
  clear: () => clearCachedModels(),
  estimate: async () => {
    const { usage, quota } = await navigator.storage.estimate();
    return { usage: usage ?? -1, quota: quota ?? -1 };
  },
};

declare global {
  interface Window {
    storageTest: typeof storageTest;
  }
}

window.storageTest = storageTest;
document.body.dataset.ready = 'true';
