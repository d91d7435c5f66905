// Progress of a cached model source, as a typed event union. Byte counts come from the manifest, so progress is
// exact even when the server sends no Content-Length. `loaded` counts bytes held (stored, or received and not
// yet stored); it goes down when bad bytes are discarded.

export type StorageEvent =
  /** The manifest is known; `cachedBytes` are already stored from an earlier run (resumed, not fetched). */
  | { type: 'manifest'; modelKey: string; modelId: string; files: number; totalBytes: number; cachedBytes: number; offline: boolean }
  /** navigator.storage.persist() was asked (headless and many browsers say no; the cache works either way). */
  | { type: 'persist'; granted: boolean }
  | { type: 'file-start'; path: string; bytes: number; resumeFrom: number }
  | { type: 'progress'; path: string; fileLoaded: number; fileBytes: number; loaded: number; total: number }
  /** A try failed (connection dropped, HTTP 5xx, short body); the next one resumes at `resumeFrom`. */
  | { type: 'retry'; path: string; attempt: number; resumeFrom: number; reason: string }
  /** The file's stored bytes were discarded and it starts from 0: the server ignored Range, or the hash failed. */
  | { type: 'restart'; path: string; reason: 'range-ignored' | 'corrupt' | 'too-long' }
  | { type: 'file-verified'; path: string; bytes: number }
  /** Every file verified and the model is committed as complete. */
  | { type: 'complete'; modelKey: string; totalBytes: number; fetchedBytes: number };

export type StorageEventListener = (event: StorageEvent) => void;
