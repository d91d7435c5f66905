// Where a model package's bytes come from. The engine asks a ModelSource for files by their package path;
// a source checks sizes against the manifest. This module has the plain network source (a URL base) and the
// local-files source; the caching, resumable, verified source of src/storage/ implements the same interface.
import { TarError } from '../errors.ts';
import { findFile, parseManifest, type Manifest } from './manifest.ts';

export class ModelSourceError extends TarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid-input', message, options);
    this.name = 'ModelSourceError';
  }
}

export interface ModelSource {
  /** Identifies the package (URL base, or "files:<modelId>"); caches key on it plus the manifest. */
  readonly id: string;
  readonly manifest: Manifest;
  /** The bytes of one package file; rejects a path the manifest does not list, or a wrong size. */
  file(path: string, signal?: AbortSignal): Promise<Uint8Array>;
}

function checkSize(manifest: Manifest, path: string, bytes: Uint8Array, where: string): Uint8Array {
  const entry = findFile(manifest, path);
  if (!entry) throw new ModelSourceError(`${where}: "${path}" is not listed in the manifest`);
  if (bytes.byteLength !== entry.bytes) {
    throw new ModelSourceError(`${where}: "${path}" has ${bytes.byteLength} bytes, the manifest says ${entry.bytes} (truncated or wrong file)`);
  }
  return bytes;
}

async function fetchBytes(url: string, signal: AbortSignal | undefined, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, signal ? { signal } : undefined);
  } catch (cause) {
    if (signal?.aborted) throw signal.reason;
    throw new ModelSourceError(`could not fetch ${what} from ${url}`, { cause });
  }
  if (!response.ok) throw new ModelSourceError(`fetching ${what} from ${url} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** A package served at `base` (a folder URL: trailing slash optional). */
export async function openUrlSource(base: string, signal?: AbortSignal): Promise<ModelSource> {
  const root = base.endsWith('/') ? base : `${base}/`;
  const raw = await fetchBytes(`${root}manifest.json`, signal, 'the manifest');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(raw));
  } catch (cause) {
    throw new ModelSourceError(`${root}manifest.json is not JSON`, { cause });
  }
  const manifest = parseManifest(json);
  return {
    id: root,
    manifest,
    file: async (path, fileSignal) => checkSize(manifest, path, await fetchBytes(`${root}${path}`, fileSignal, path), root),
  };
}

/** A package picked as local files (a folder from a file picker or a drop): paths relative to the folder
 *  that holds manifest.json. */
export async function openFilesSource(files: Iterable<File>): Promise<ModelSource> {
  const byPath = new Map<string, File>();
  for (const file of files) {
    const relative = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    byPath.set(relative, file);
  }
  const manifestKey = [...byPath.keys()].find((p) => p === 'manifest.json' || p.endsWith('/manifest.json'));
  if (!manifestKey) throw new ModelSourceError('the chosen files hold no manifest.json');
  const prefix = manifestKey.slice(0, -'manifest.json'.length);
  let json: unknown;
  try {
    json = JSON.parse(await (byPath.get(manifestKey) as File).text());
  } catch (cause) {
    throw new ModelSourceError('manifest.json is not JSON', { cause });
  }
  const manifest = parseManifest(json);
  return {
    id: `files:${manifest.modelId}`,
    manifest,
    file: async (path) => {
      const file = byPath.get(`${prefix}${path}`);
      if (!file) throw new ModelSourceError(`the chosen files lack "${path}"`);
      return checkSize(manifest, path, new Uint8Array(await file.arrayBuffer()), 'local files');
    },
  };
}
