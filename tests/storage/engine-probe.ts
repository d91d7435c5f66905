// Probe: the caching source plugged into an engine component. The tiny package (served by Vite) is cached,
// then, in a fresh page, VqDecoder loads from the cache alone (no request for weights, by Resource Timing
// entries) and decodes. The cached bytes themselves are checked against the manifest's sha256 elsewhere.
import { GpuContext } from '../../src/gpu/context.ts';
import { VqDecoder } from '../../src/models/vqdecoder.ts';
import { openCachedUrlSource } from '../../src/storage/cached-source.ts';

const PACKAGE = '/models/tiny/';

function weightRequests(): number {
  return performance
    .getEntriesByType('resource')
    .filter((e) => e.name.includes(PACKAGE) && !e.name.endsWith('manifest.json')).length;
}

/** Brings the tiny package into the cache (a download, or nothing when cached). */
export async function cacheTiny(): Promise<number> {
  const source = await openCachedUrlSource(new URL(PACKAGE, location.href).href, { chunkBytes: 64 * 1024 });
  return source.manifest.files.length;
}

/** In a page that has not fetched the package: VqDecoder from the cache, decoding a small grid. */
export async function vqFromCache(): Promise<{ pixels: number; opaque: boolean; weightRequests: number; loadMs: number; decodeMs: number }> {
  const ctx = await GpuContext.create();
  const t0 = performance.now();
  const decoder = await VqDecoder.load(ctx, await openCachedUrlSource(new URL(PACKAGE, location.href).href));
  const t1 = performance.now();
  const side = 2;
  const image = await decoder.decode(new Uint32Array(side * side).map((_, i) => (i * 7 + 3) % 64), side);
  const opaque = image.data.every((v, i) => i % 4 !== 3 || v === 255);
  return { pixels: image.width * image.height, opaque, weightRequests: weightRequests(), loadMs: t1 - t0, decodeMs: performance.now() - t1 };
}
