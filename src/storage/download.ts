// Downloads one package file into the chunk store: resumable, verified, cancellable. Bytes are gathered into a
// chunk (≤ 64 MiB); a full chunk is hashed (incremental SHA-256), written, then counted in the model record
// together with the hash state, so a reload resumes from the last counted chunk. A dropped connection or an
// HTTP 5xx resumes in the same call from the last byte received (HTTP Range); a server that ignores Range
// makes the file start over cleanly. The last chunk is counted only once the whole file's sha256 matched
// the manifest; a mismatch discards the file's chunks and fetches it again. This module does not decide which
// files to fetch or when a model is complete (cached-source.ts does).
import type { FileEntry } from '../model/manifest.ts';
import { deleteFileChunks, putChunk, type FileProgress } from './cache-db.ts';
import { DownloadError, IntegrityError, StorageQuotaError } from './errors.ts';
import type { StorageEventListener } from './events.ts';
import { RetryableError, type ByteOrigin } from './origin.ts';
import { freeBytes } from './quota.ts';
import { Sha256 } from './sha256.ts';

export interface FileJob {
  origin: ByteOrigin;
  modelKey: string;
  entry: FileEntry;
  chunkBytes: number;
  /** The file's progress as the model record has it. */
  progress: FileProgress;
  /** Writes the file's new progress into the model record (after the chunks it counts are stored). */
  commit: (progress: FileProgress) => Promise<void>;
  /** Bytes of this file now held (stored or buffered). */
  onBytes: (fileLoaded: number) => void;
  onEvent: StorageEventListener;
  signal: AbortSignal | undefined;
  /** Consecutive tries that bring no new byte before giving up. */
  maxRetries: number;
  /** First wait between tries; doubles per failed try, up to 10 s. */
  retryDelayMs: number;
  /** How often a file may hash wrong and be fetched again before IntegrityError. */
  maxCorruptRefetches: number;
}

const EMPTY: FileProgress = { chunks: 0, hash: null, verified: false };

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || (name === 'UnknownError' && /quota|space/i.test(String((error as Error).message)));
}

/** Thrown inside a try: the file's stored bytes are discarded and it starts over (`body`: a response to drop). */
class Restart {
  constructor(
    readonly reason: 'range-ignored' | 'corrupt' | 'too-long',
    readonly actual = '',
    readonly body?: ReadableStream<Uint8Array>,
  ) {}
}

/** Fetches what is missing of `job.entry` and verifies it; resolves with the bytes taken from the origin. */
export async function downloadFile(job: FileJob): Promise<number> {
  const { entry, chunkBytes, signal } = job;
  const size = entry.bytes;
  let progress = job.progress;
  let fetched = 0;
  let corrupt = 0;
  let ignored = 0;

  const setProgress = async (next: FileProgress) => {
    progress = next;
    await job.commit(next);
  };
  const store = async (index: number, bytes: Uint8Array) => {
    try {
      await putChunk(job.modelKey, entry.path, index, bytes);
    } catch (error) {
      if (!isQuotaError(error)) throw error;
      const free = await freeBytes();
      throw new StorageQuotaError(size - index * chunkBytes, free ?? 0, { cause: error, midway: true });
    }
  };

  if (progress.verified) return 0;
  for (;;) {
    const hasher = progress.hash ? new Sha256(progress.hash) : new Sha256();
    let committed = Math.min(progress.chunks * chunkBytes, size);
    let buffer: Uint8Array | null = null;
    let fill = 0;
    let failures = 0;
    job.onEvent({ type: 'file-start', path: entry.path, bytes: size, resumeFrom: committed });

    /** Takes received bytes; true once the whole file is stored and verified. */
    const take = async (piece: Uint8Array): Promise<boolean> => {
      let rest = piece;
      while (rest.length > 0) {
        buffer ??= new Uint8Array(Math.min(chunkBytes, size - committed));
        const n = Math.min(buffer.length - fill, rest.length);
        buffer.set(rest.subarray(0, n), fill);
        fill += n;
        rest = rest.subarray(n);
        if (fill < buffer.length) continue;
        if (signal?.aborted) throw signal.reason;
        const index = committed / chunkBytes;
        hasher.update(buffer);
        await store(index, buffer);
        committed += fill;
        buffer = null;
        fill = 0;
        if (committed < size) {
          await setProgress({ chunks: index + 1, hash: hasher.save(), verified: false });
          job.onBytes(committed);
          continue;
        }
        const actual = hasher.digestHex();
        if (actual !== entry.sha256) throw new Restart('corrupt', actual);
        if (rest.length > 0) throw new Restart('too-long');
        await setProgress({ chunks: index + 1, hash: null, verified: true });
        return true;
      }
      return false;
    };

    try {
      if (size === 0) {
        const actual = hasher.digestHex();
        if (actual !== entry.sha256) throw new IntegrityError(entry.path, entry.sha256, actual);
        await setProgress({ chunks: 0, hash: null, verified: true });
      }
      while (!progress.verified) {
        if (signal?.aborted) throw signal.reason;
        const pos = committed + fill;
        let gained = false;
        try {
          const opened = await job.origin.open(entry.path, pos, signal);
          if (opened.start !== pos) throw new Restart('range-ignored', '', opened.body);
          const reader = opened.body.getReader();
          try {
            for (;;) {
              if (signal?.aborted) throw signal.reason;
              let result: ReadableStreamReadResult<Uint8Array>;
              try {
                result = await reader.read();
              } catch (cause) {
                if (signal?.aborted) throw signal.reason;
                throw new RetryableError(`connection dropped at byte ${committed + fill}: ${String(cause)}`, { cause });
              }
              if (result.done) break;
              fetched += result.value.length;
              gained ||= result.value.length > 0;
              const done = await take(result.value);
              job.onBytes(committed + fill);
              if (done) break;
            }
          } finally {
            await reader.cancel().catch(() => undefined);
          }
          if (!progress.verified) throw new RetryableError(`body ended at byte ${committed + fill} of ${size}`);
        } catch (error) {
          if (!(error instanceof RetryableError)) throw error;
          failures = gained ? 1 : failures + 1;
          if (failures > job.maxRetries) {
            throw new DownloadError(entry.path, `gave up after ${failures} tries without progress: ${error.message}`, { cause: error });
          }
          job.onEvent({ type: 'retry', path: entry.path, attempt: failures, resumeFrom: committed + fill, reason: error.message });
          await sleep(Math.min(job.retryDelayMs * 2 ** (failures - 1), 10_000), signal);
        }
      }
      job.onEvent({ type: 'file-verified', path: entry.path, bytes: size });
      return fetched;
    } catch (error) {
      if (!(error instanceof Restart)) throw error;
      await error.body?.cancel().catch(() => undefined);
      // Stop counting the file's chunks before deleting them: the record never claims a missing chunk.
      await setProgress(EMPTY);
      await deleteFileChunks(job.modelKey, entry.path);
      job.onEvent({ type: 'restart', path: entry.path, reason: error.reason });
      job.onBytes(0);
      if (error.reason === 'range-ignored') {
        if (++ignored > job.maxRetries) {
          throw new DownloadError(entry.path, `the server ignores Range and the transfer failed ${ignored} times`);
        }
      } else if (++corrupt > job.maxCorruptRefetches) {
        throw new IntegrityError(entry.path, entry.sha256, error.actual || `(more than ${size} bytes)`);
      }
    }
  }
}
