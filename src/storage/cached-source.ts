// The caching ModelSource: opens a package from a URL base or local files, brings every file into the
// IndexedDB cache (resuming what an earlier run stored, verifying each file's sha256, committing the model as
// complete only when all verified), then serves files from the cache. A cached model opens with no request for
// weights; offline, a URL source falls back to the complete cached version last loaded from that URL.
// file() assembles one file only when asked; chunks() hands them out one by one (for GPU uploads) so no file
// needs to exist twice in JS memory. Management (list, delete, clear) is in cache-db.ts.
import { InvalidArgumentError } from '../errors.ts';
import { findFile, parseManifest, type FileEntry, type Manifest } from '../model/manifest.ts';
import { ModelSourceError, type ModelSource } from '../model/source.ts';
import {
  MAX_CHUNK_BYTES,
  allRecords,
  fileStoredBytes,
  getChunk,
  getRecord,
  modelKeyOf,
  putRecord,
  storedBytes,
  type ModelRecord,
} from './cache-db.ts';
import { downloadFile } from './download.ts';
import { DownloadError, StorageQuotaError } from './errors.ts';
import type { StorageEventListener } from './events.ts';
import { filesOrigin, urlOrigin, type ByteOrigin } from './origin.ts';
import { checkQuota, freeBytes, requestPersistence } from './quota.ts';
import { sha256Hex } from './sha256.ts';

export interface CachedSourceOptions {
  onEvent?: StorageEventListener;
  signal?: AbortSignal;
  /** Chunk size for a model not cached yet: a multiple of 64, at most 64 MiB (the default). */
  chunkBytes?: number;
  /** Consecutive tries without a new byte before a file fails (default 5). */
  maxRetries?: number;
  /** First wait between tries in ms, doubling per failure (default 500). */
  retryDelayMs?: number;
  /** Times a file may fail its sha256 and be fetched again (default 2). */
  maxCorruptRefetches?: number;
}

export interface CachedModelSource extends ModelSource {
  /** `<modelId>@<sha256 of manifest.json>`: the cache key of this version. */
  readonly modelKey: string;
  /** One file's chunks in order (each ≤ 64 MiB), read from IndexedDB one at a time. */
  chunks(path: string, signal?: AbortSignal): AsyncGenerator<Uint8Array>;
}

/** A package at a folder URL, cached. */
export function openCachedUrlSource(base: string, options: CachedSourceOptions = {}): Promise<CachedModelSource> {
  return openCached(urlOrigin(base), options);
}

/** A package picked as local files (paths relative to the folder holding manifest.json), cached. */
export function openCachedFilesSource(files: Iterable<File>, options: CachedSourceOptions = {}): Promise<CachedModelSource> {
  return openCached(filesOrigin(files), options);
}

/** A model already complete in the cache, by its key (see listCachedModels); no network at all. */
export async function openCachedModel(modelKey: string): Promise<CachedModelSource> {
  const record = await getRecord(modelKey);
  if (!record?.complete) throw new ModelSourceError(`"${modelKey}" is not completely cached`);
  return cachedSource(record, parseManifest(JSON.parse(record.manifestText)));
}

function isQuotaError(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'QuotaExceededError';
}

async function openCached(origin: ByteOrigin, options: CachedSourceOptions): Promise<CachedModelSource> {
  const { signal } = options;
  const emit: StorageEventListener = options.onEvent ?? (() => undefined);
  const chunkBytes = options.chunkBytes ?? MAX_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 64 || chunkBytes % 64 !== 0 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new InvalidArgumentError(`chunkBytes must be a multiple of 64 between 64 and ${MAX_CHUNK_BYTES}, got ${chunkBytes}`);
  }

  let manifestBytes: Uint8Array;
  try {
    manifestBytes = await origin.manifest(signal);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const hostDown = error instanceof DownloadError && (error.status ?? 0) >= 500;
    if (!(error instanceof TypeError) && !hostDown) throw error;
    // Offline (or the host is down): the newest complete version last loaded from this origin.
    const cached = (await allRecords())
      .filter((r) => r.complete && r.sources.includes(origin.id))
      .sort((a, b) => b.updatedAt - a.updatedAt)[0];
    if (!cached) throw new DownloadError('manifest.json', `cannot reach ${origin.id} and no complete copy is cached`, { cause: error });
    const manifest = parseManifest(JSON.parse(cached.manifestText));
    emit({ type: 'manifest', modelKey: cached.modelKey, modelId: cached.modelId, files: manifest.files.length, totalBytes: cached.totalBytes, cachedBytes: cached.totalBytes, offline: true });
    emit({ type: 'complete', modelKey: cached.modelKey, totalBytes: cached.totalBytes, fetchedBytes: 0 });
    return cachedSource(cached, manifest);
  }
  const manifestText = new TextDecoder().decode(manifestBytes);
  let json: unknown;
  try {
    json = JSON.parse(manifestText);
  } catch (cause) {
    throw new ModelSourceError(`${origin.id}: manifest.json is not JSON`, { cause });
  }
  const manifest = parseManifest(json);
  const manifestSha256 = sha256Hex(manifestBytes);
  const modelKey = modelKeyOf(manifest.modelId, manifestSha256);
  const totalBytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  const record: ModelRecord = (await getRecord(modelKey)) ?? {
    modelKey,
    modelId: manifest.modelId,
    manifestSha256,
    manifestText,
    sources: [],
    chunkBytes,
    totalBytes,
    files: Object.fromEntries(manifest.files.map((f) => [f.path, { chunks: 0, hash: null, verified: false }])),
    complete: false,
    updatedAt: 0,
  };
  const sizeOf = (path: string) => (findFile(manifest, path) as FileEntry).bytes;
  const cachedBytes = storedBytes(record, sizeOf);
  emit({ type: 'manifest', modelKey, modelId: manifest.modelId, files: manifest.files.length, totalBytes, cachedBytes, offline: false });

  const save = async () => {
    try {
      await putRecord(record);
    } catch (error) {
      if (!isQuotaError(error)) throw error;
      throw new StorageQuotaError(totalBytes - storedBytes(record, sizeOf), (await freeBytes()) ?? 0, { cause: error, midway: true });
    }
  };
  const newSource = !record.sources.includes(origin.id);
  if (newSource) record.sources.push(origin.id);

  let fetchedBytes = 0;
  if (!record.complete) {
    await checkQuota(totalBytes - cachedBytes);
    emit({ type: 'persist', granted: await requestPersistence() });
    if (signal?.aborted) throw signal.reason;
    await save();
    const held = new Map(manifest.files.map((f) => [f.path, fileStoredBytes(record.files[f.path], record.chunkBytes, f.bytes)]));
    let loaded = cachedBytes;
    for (const entry of manifest.files) {
      const progress = record.files[entry.path] ?? { chunks: 0, hash: null, verified: false };
      if (progress.verified) continue;
      fetchedBytes += await downloadFile({
        origin,
        modelKey,
        entry,
        chunkBytes: record.chunkBytes,
        progress,
        commit: async (next) => {
          record.files[entry.path] = next;
          await save();
        },
        onBytes: (fileLoaded) => {
          loaded += fileLoaded - (held.get(entry.path) ?? 0);
          held.set(entry.path, fileLoaded);
          emit({ type: 'progress', path: entry.path, fileLoaded, fileBytes: entry.bytes, loaded, total: totalBytes });
        },
        onEvent: emit,
        signal,
        maxRetries: options.maxRetries ?? 5,
        retryDelayMs: options.retryDelayMs ?? 500,
        maxCorruptRefetches: options.maxCorruptRefetches ?? 2,
      });
    }
    // Commit: only now does the model load as complete.
    record.complete = true;
    await save();
  } else if (newSource) {
    // Remembering the new source (for offline starts) is optional: a full disk must not stop a cached start.
    await save().catch(() => undefined);
  }
  emit({ type: 'complete', modelKey, totalBytes, fetchedBytes });
  return cachedSource(record, manifest);
}

function cachedSource(record: ModelRecord, manifest: Manifest): CachedModelSource {
  const { modelKey, chunkBytes } = record;
  const entryOf = (path: string): FileEntry => {
    const entry = findFile(manifest, path);
    if (!entry) throw new ModelSourceError(`cache: "${path}" is not listed in the manifest`);
    return entry;
  };
  async function chunkBlob(entry: FileEntry, i: number, signal: AbortSignal | undefined): Promise<Blob> {
    if (signal?.aborted) throw signal.reason;
    const blob = await getChunk(modelKey, entry.path, i);
    if (!blob || blob.size !== Math.min(chunkBytes, entry.bytes - i * chunkBytes)) {
      throw new ModelSourceError(`cache: chunk ${i} of "${entry.path}" is missing or damaged (deleted while in use?); download the model again`);
    }
    return blob;
  }
  async function* chunks(path: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const entry = entryOf(path);
    for (let i = 0; i * chunkBytes < entry.bytes; i++) {
      yield new Uint8Array(await (await chunkBlob(entry, i, signal)).arrayBuffer());
    }
  }
  /** Reads every chunk straight into one buffer (BYOB reads: no per-chunk copy is allocated). */
  async function file(path: string, signal?: AbortSignal): Promise<Uint8Array> {
    const entry = entryOf(path);
    let out = new Uint8Array(entry.bytes);
    let offset = 0;
    for (let i = 0; offset < entry.bytes; i++) {
      const blob = await chunkBlob(entry, i, signal);
      let reader: ReadableStreamBYOBReader;
      try {
        reader = blob.stream().getReader({ mode: 'byob' });
      } catch {
        // A browser whose Blob streams are not byte streams: one chunk-sized copy at a time.
        out.set(new Uint8Array(await blob.arrayBuffer()), offset);
        offset += blob.size;
        continue;
      }
      try {
        for (;;) {
          if (signal?.aborted) throw signal.reason;
          const { done, value } = await reader.read(new Uint8Array(out.buffer, offset, Math.min(1 << 20, entry.bytes - offset)));
          if (!value) throw new ModelSourceError(`cache: reading chunk ${i} of "${path}" was cancelled`);
          out = new Uint8Array(value.buffer);
          offset += value.byteLength;
          if (done || offset >= entry.bytes || offset % chunkBytes === 0) break;
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    }
    return out;
  }
  return {
    id: record.sources[0] ?? `cache:${modelKey}`,
    modelKey,
    manifest,
    chunks,
    file,
  };
}
