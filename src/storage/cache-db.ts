// The weights cache in IndexedDB, through two idb-keyval custom stores: `chunks` holds file bytes as Blobs of
// at most 64 MiB keyed [modelKey, path, index]; `models` holds one record per model version (its manifest, the
// per-file progress and whether every file verified). modelKey = `<modelId>@<sha256 of manifest.json>`, so two
// versions of a model never share a chunk. Ordering keeps the cache consistent through any failure: a chunk is
// written before the record that counts it, and a record stops counting chunks before they are deleted.
// This module stores and lists; downloading and verifying live in download.ts and cached-source.ts.
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import type { Sha256State } from './sha256.ts';

/** The largest chunk: one IndexedDB value over ~127 MB fails in some contexts (docs/storage.md). */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

export interface FileProgress {
  /** Chunks committed (written and counted), from the start of the file. */
  chunks: number;
  /** Hash state after those chunks (null when chunks = 0). */
  hash: Sha256State | null;
  /** Every byte stored and its sha256 matched the manifest. */
  verified: boolean;
}

export interface ModelRecord {
  modelKey: string;
  modelId: string;
  manifestSha256: string;
  manifestText: string;
  /** Source ids (URL bases, "files:<modelId>") this version was loaded from: an offline start looks them up. */
  sources: string[];
  chunkBytes: number;
  totalBytes: number;
  files: Record<string, FileProgress>;
  /** Set only after every file verified (write-then-commit). */
  complete: boolean;
  updatedAt: number;
}

/** What the management UI lists. */
export interface CachedModelInfo {
  modelKey: string;
  modelId: string;
  manifestSha256: string;
  sources: string[];
  totalBytes: number;
  storedBytes: number;
  complete: boolean;
  updatedAt: number;
}

let stores: { chunks: UseStore; models: UseStore } | null = null;

function db(): { chunks: UseStore; models: UseStore } {
  stores ??= { chunks: createStore('tar-weights-chunks', 'chunks'), models: createStore('tar-weights-models', 'models') };
  return stores;
}

export function modelKeyOf(modelId: string, manifestSha256: string): string {
  return `${modelId}@${manifestSha256}`;
}

export function getRecord(modelKey: string): Promise<ModelRecord | undefined> {
  return get<ModelRecord>(modelKey, db().models);
}

export function putRecord(record: ModelRecord): Promise<void> {
  return set(record.modelKey, { ...record, updatedAt: Date.now() }, db().models);
}

export function allRecords(): Promise<ModelRecord[]> {
  return values<ModelRecord>(db().models);
}

/** Stores one chunk as a Blob (IndexedDB keeps blobs out of the JS heap; reading one back costs nothing until
 *  its bytes are read). */
export function putChunk(modelKey: string, path: string, index: number, bytes: Uint8Array): Promise<void> {
  return set([modelKey, path, index], new Blob([bytes as Uint8Array<ArrayBuffer>]), db().chunks);
}

export async function getChunk(modelKey: string, path: string, index: number): Promise<Blob | undefined> {
  return get<Blob>([modelKey, path, index], db().chunks);
}

function deleteRange(range: IDBKeyRange): Promise<void> {
  return db().chunks('readwrite', (store) => {
    store.delete(range);
    return new Promise<void>((resolve, reject) => {
      store.transaction.oncomplete = () => resolve();
      store.transaction.onabort = store.transaction.onerror = () => reject(store.transaction.error);
    });
  });
}

/** Deletes every chunk of one file of one model version. */
export function deleteFileChunks(modelKey: string, path: string): Promise<void> {
  return deleteRange(IDBKeyRange.bound([modelKey, path, 0], [modelKey, path, Infinity]));
}

/** Bytes of one file a progress entry says are stored. */
export function fileStoredBytes(progress: FileProgress | undefined, chunkBytes: number, bytes: number): number {
  if (!progress) return 0;
  return progress.verified ? bytes : Math.min(progress.chunks * chunkBytes, bytes);
}

/** Bytes a record says are stored. */
export function storedBytes(record: ModelRecord, fileBytes: (path: string) => number): number {
  let total = 0;
  for (const [path, p] of Object.entries(record.files)) total += fileStoredBytes(p, record.chunkBytes, fileBytes(path));
  return total;
}

function info(record: ModelRecord): CachedModelInfo {
  const sizes = new Map<string, number>();
  for (const f of (JSON.parse(record.manifestText) as { files: { path: string; bytes: number }[] }).files) sizes.set(f.path, f.bytes);
  return {
    modelKey: record.modelKey,
    modelId: record.modelId,
    manifestSha256: record.manifestSha256,
    sources: record.sources,
    totalBytes: record.totalBytes,
    storedBytes: storedBytes(record, (p) => sizes.get(p) ?? 0),
    complete: record.complete,
    updatedAt: record.updatedAt,
  };
}

/** Every cached model version, complete or partial, with its sizes. */
export async function listCachedModels(): Promise<CachedModelInfo[]> {
  return (await allRecords()).map(info).sort((a, b) => a.modelKey.localeCompare(b.modelKey));
}

/** Deletes one model version: its record first (it stops loading or listing), then its chunks. */
export async function deleteCachedModel(modelKey: string): Promise<void> {
  await del(modelKey, db().models);
  await deleteRange(IDBKeyRange.bound([modelKey], [modelKey, []]));
}

/** Deletes every cached model. */
export async function clearCachedModels(): Promise<void> {
  await db().models('readwrite', (store) => promiseOf(store.clear()));
  await db().chunks('readwrite', (store) => promiseOf(store.clear()));
}

function promiseOf(request: IDBRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}
