// Where a package's bytes come from before they are cached: a URL base (any static host, e.g. a Hugging Face
// `resolve/main/` URL) or local files (a file picker or a dropped folder). Both read manifest.json and open a
// file's body from a byte offset (HTTP Range for URLs, Blob.slice for files). This module does no caching,
// retrying or hashing (download.ts does).
import { DownloadError } from './errors.ts';

/** A failure the next try may not hit: dropped connection, HTTP 5xx/408/429, unexpected Content-Range. */
export class RetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

export interface OpenedBody {
  /** Offset of the body's first byte: the asked start, or 0 when the origin ignored the range. */
  start: number;
  body: ReadableStream<Uint8Array>;
}

export interface ByteOrigin {
  /** "url:<base>/" style id, or "files:<modelId>" once the manifest is read. */
  readonly id: string;
  /** manifest.json's bytes. Network failure rejects with a TypeError (the caller may go offline). */
  manifest(signal?: AbortSignal): Promise<Uint8Array>;
  open(path: string, start: number, signal?: AbortSignal): Promise<OpenedBody>;
}

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** A package under the folder URL `base` (trailing slash optional). */
export function urlOrigin(base: string): ByteOrigin {
  const root = base.endsWith('/') ? base : `${base}/`;
  const open = async (path: string, start: number, signal?: AbortSignal): Promise<OpenedBody> => {
    let response: Response;
    try {
      response = await fetch(`${root}${path}`, {
        signal,
        cache: 'no-store',
        headers: start > 0 ? { Range: `bytes=${start}-` } : {},
      });
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      throw new RetryableError(`could not connect: ${String(cause)}`, { cause });
    }
    if (response.status === 206) {
      const match = /^bytes (\d+)-/.exec(response.headers.get('Content-Range') ?? '');
      if (!match || Number(match[1]) !== start) {
        await response.body?.cancel();
        throw new RetryableError(`HTTP 206 with Content-Range "${response.headers.get('Content-Range')}" for a range from ${start}`);
      }
      return { start, body: response.body as ReadableStream<Uint8Array> };
    }
    if (response.status === 200) return { start: 0, body: response.body as ReadableStream<Uint8Array> };
    await response.body?.cancel();
    // Range not satisfiable (the file changed size?): the whole file again; the caller starts it over.
    if (response.status === 416 && start > 0) return open(path, 0, signal);
    if (isRetryableStatus(response.status)) throw new RetryableError(`HTTP ${response.status}`);
    throw new DownloadError(path, `HTTP ${response.status} from ${root}${path}`, { status: response.status });
  };
  return {
    id: root,
    open,
    async manifest(signal) {
      const response = await fetch(`${root}manifest.json`, { signal, cache: 'no-cache' });
      if (!response.ok) throw new DownloadError('manifest.json', `HTTP ${response.status} from ${root}manifest.json`, { status: response.status });
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/** A package picked as local files: paths relative to the folder that holds manifest.json. */
export function filesOrigin(files: Iterable<File>): ByteOrigin {
  const byPath = new Map<string, File>();
  for (const file of files) {
    const relative = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    byPath.set(relative, file);
  }
  const manifestKey = [...byPath.keys()].find((p) => p === 'manifest.json' || p.endsWith('/manifest.json'));
  const prefix = manifestKey ? manifestKey.slice(0, -'manifest.json'.length) : '';
  let id = 'files:';
  return {
    get id() {
      return id;
    },
    async manifest() {
      if (!manifestKey) throw new DownloadError('manifest.json', 'the chosen files hold no manifest.json');
      const bytes = new Uint8Array(await (byPath.get(manifestKey) as File).arrayBuffer());
      try {
        id = `files:${(JSON.parse(new TextDecoder().decode(bytes)) as { modelId?: unknown }).modelId}`;
      } catch {
        // Not JSON: the manifest parser reports it.
      }
      return bytes;
    },
    async open(path, start) {
      const file = byPath.get(`${prefix}${path}`);
      if (!file) throw new DownloadError(path, 'the chosen files lack it');
      return { start, body: file.slice(start).stream() as ReadableStream<Uint8Array> };
    },
  };
}
