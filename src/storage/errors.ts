// Typed errors of weights delivery (src/storage/): not enough storage, a download that cannot go on, and a
// file whose bytes never matched the manifest's sha256. Each carries the numbers a UI needs to explain it.
import { TarError } from '../errors.ts';

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Not enough storage: before downloading (from navigator.storage.estimate()) or when the browser refused a
 *  write midway (QuotaExceededError; the cache stays consistent and the download can resume later). */
export class StorageQuotaError extends TarError {
  readonly needed: number;
  readonly free: number;
  constructor(needed: number, free: number, options?: { cause?: unknown; midway?: boolean }) {
    const where = options?.midway ? 'the browser refused to store more while downloading' : 'not enough storage to download the model';
    super('storage-quota', `${where}: ${mb(needed)} needed, ${mb(free)} free`, options);
    this.name = 'StorageQuotaError';
    this.needed = needed;
    this.free = free;
  }
}

/** A file could not be fetched: an HTTP error that retrying cannot fix (404, 403…), or too many failed tries. */
export class DownloadError extends TarError {
  readonly path: string;
  readonly status: number | undefined;
  constructor(path: string, message: string, options?: { cause?: unknown; status?: number }) {
    super('download-failed', `downloading "${path}": ${message}`, options);
    this.name = 'DownloadError';
    this.path = path;
    this.status = options?.status;
  }
}

/** A file's bytes did not hash to the manifest's sha256 even after re-fetching it. */
export class IntegrityError extends TarError {
  readonly path: string;
  readonly expected: string;
  readonly actual: string;
  constructor(path: string, expected: string, actual: string) {
    super('integrity', `"${path}" is corrupt: sha256 ${actual}, the manifest says ${expected}`);
    this.name = 'IntegrityError';
    this.path = path;
    this.expected = expected;
    this.actual = actual;
  }
}
