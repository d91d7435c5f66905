// A local HTTP server for weights-delivery tests that misbehaves on request: it serves packages from memory
// and, per request, can cut the connection after a given byte, corrupt a byte, omit Content-Length, ignore
// Range, answer with an HTTP error, or stall. It listens on 127.0.0.1 only, logs every request (to count
// weight requests), and closes itself after `lifetimeMs` even if a test forgets to. Test code, not a product.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do to one request (faults are consumed in order, one per request of that path). */
export interface Fault {
  /** Destroy the connection after sending this many body bytes. */
  cutAfter?: number;
  /** Flip the bits of the byte at this offset of the file (if the response covers it). */
  corruptAt?: number;
  /** Answer with this HTTP status and no body. */
  status?: number;
  /** Send the body chunked, without Content-Length. */
  noLength?: boolean;
  /** Answer 200 with the whole file even when Range was asked. */
  ignoreRange?: boolean;
  /** Send this many body bytes, then stop sending (the connection stays open until the server closes). */
  stallAfter?: number;
}

export interface ServedRequest {
  path: string;
  range: string | null;
  /** First byte offset served (0 for a full response). */
  start: number;
  status: number;
  sentBytes: number;
  fault: Fault | null;
}

const PIECE = 64 * 1024;

export class FaultServer {
  readonly log: ServedRequest[] = [];
  /** Faults applied to every request of a path, after the queued ones run out. */
  readonly always = new Map<string, Fault>();
  private readonly files = new Map<string, Uint8Array>();
  private readonly queued = new Map<string, Fault[]>();
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly server: Server, readonly url: string, lifetimeMs: number) {
    this.timer = setTimeout(() => void this.close(), lifetimeMs);
    this.timer.unref();
  }

  static async start(lifetimeMs = 5 * 60_000): Promise<FaultServer> {
    let self: FaultServer | null = null;
    const server = createServer((req, res) => self?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new FaultServer(server, `http://127.0.0.1:${port}`, lifetimeMs);
    return self;
  }

  /** Serves `files` (package path → bytes) under `/<prefix>/`. */
  addFiles(prefix: string, files: Map<string, Uint8Array>): string {
    for (const [path, bytes] of files) this.files.set(`/${prefix}/${path}`, bytes);
    return `${this.url}/${prefix}/`;
  }

  /** Queues faults for the next requests of `/<prefix>/<path>`. */
  fault(prefix: string, path: string, ...faults: Fault[]): void {
    const key = `/${prefix}/${path}`;
    this.queued.set(key, [...(this.queued.get(key) ?? []), ...faults]);
  }

  pending(prefix: string, path: string): number {
    return this.queued.get(`/${prefix}/${path}`)?.length ?? 0;
  }

  requests(prefix: string, path?: string): ServedRequest[] {
    return this.log.filter((r) => (path ? r.path === `/${prefix}/${path}` : r.path.startsWith(`/${prefix}/`)));
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET' }).end();
      return;
    }
    const path = decodeURIComponent(new URL(req.url ?? '/', this.url).pathname);
    const fault = this.queued.get(path)?.shift() ?? this.always.get(path) ?? null;
    const range = req.headers.range ?? null;
    const entry: ServedRequest = { path, range, start: 0, status: 0, sentBytes: 0, fault };
    this.log.push(entry);
    const file = this.files.get(path);
    if (fault?.status || !file) {
      entry.status = fault?.status ?? 404;
      res.writeHead(entry.status).end();
      return;
    }
    let start = 0;
    let end = file.length;
    const match = range && !fault?.ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (match) {
      start = Number(match[1]);
      if (match[2]) end = Math.min(Number(match[2]) + 1, file.length);
      if (start >= file.length) {
        entry.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${file.length}` }).end();
        return;
      }
    }
    let body = Buffer.from(file.buffer, file.byteOffset + start, end - start);
    if (fault?.corruptAt !== undefined && fault.corruptAt >= start && fault.corruptAt < end) {
      body = Buffer.from(body);
      body[fault.corruptAt - start] = (body[fault.corruptAt - start] as number) ^ 0xff;
    }
    entry.start = start;
    entry.status = match ? 206 : 200;
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (!fault?.ignoreRange) headers['Accept-Ranges'] = 'bytes';
    if (match) headers['Content-Range'] = `bytes ${start}-${end - 1}/${file.length}`;
    if (!fault?.noLength) headers['Content-Length'] = String(body.length);
    res.writeHead(entry.status, headers);
    res.flushHeaders();
    const limit = Math.min(body.length, fault?.cutAfter ?? fault?.stallAfter ?? body.length);
    const send = (offset: number): void => {
      if (offset >= limit) {
        if (limit === body.length) res.end();
        // A moment's pause lets the client read what was sent before the connection drops.
        else if (fault?.cutAfter !== undefined) setTimeout(() => res.socket?.destroy(), 25);
        return;
      }
      const piece = body.subarray(offset, Math.min(offset + PIECE, limit));
      entry.sentBytes += piece.length;
      const more = res.write(piece, () => {
        if (offset + piece.length >= limit) send(limit);
      });
      if (offset + piece.length >= limit) return;
      if (more) setImmediate(() => send(offset + piece.length));
      else res.once('drain', () => send(offset + piece.length));
    };
    send(0);
  }
}
