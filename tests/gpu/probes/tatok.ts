// Probes: TatokEncoder / TatokDecoder (src/models/tatok.ts) on the tiny package (/models/tiny/) against the torch
// goldens (tests/fixtures/goldens/tatok.safetensors): preprocessing, indices at every pool scale, decoder
// features; f16 tables; encoded image blobs (PNG with alpha written here byte by byte, so its stored RGB is
// known; JPEG and WebP from OffscreenCanvas.convertToBlob); typed errors; buffer-pool balance.
import type { GpuContext } from '../../../src/gpu/context.ts';
import { parseGoldens, type Goldens } from '../../../src/model/goldens.ts';
import { parseManifest, type Manifest } from '../../../src/model/manifest.ts';
import type { SafeTensor } from '../../../src/model/safetensors.ts';
import { openUrlSource, type ModelSource } from '../../../src/model/source.ts';
import type { RgbaPixels } from '../../../src/models/image.ts';
import { TatokDecoder, TatokEncoder } from '../../../src/models/tatok.ts';
import { toHalfArray } from '../../../src/util/half.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { compareArrays, type Closeness } from '../compare.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';
import { gpu } from './context.ts';

const PACKAGE = '/models/tiny/';
const GOLDENS = '/tests/fixtures/goldens/tatok.safetensors';

interface Setup {
  ctx: GpuContext;
  source: ModelSource;
  encoder: TatokEncoder;
  decoder: TatokDecoder;
  goldens: Goldens;
}

let shared: Promise<Setup> | null = null;

function setup(): Promise<Setup> {
  shared ??= (async () => {
    const ctx = await gpu();
    const source = await openUrlSource(PACKAGE);
    const goldens = parseGoldens(await (await fetch(GOLDENS)).arrayBuffer(), GOLDENS, 'tatok');
    return { ctx, source, goldens, encoder: await TatokEncoder.load(ctx, source), decoder: await TatokDecoder.load(ctx, source) };
  })();
  return shared;
}

function golden(g: Goldens, name: string): SafeTensor {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`golden ${name} is missing`);
  return t;
}

/** Row `b` of a golden tensor whose first axis is the batch. */
function row<T extends { subarray(a: number, b: number): T; length: number }>(t: SafeTensor, b: number): T {
  const data = t.data as unknown as T;
  const size = data.length / (t.shape[0] as number);
  return data.subarray(b * size, (b + 1) * size);
}

/** The golden image [H, W, 3] as RGBA, alpha from `alpha(i)`. */
function goldenRgba(g: Goldens, alpha: (i: number) => number): RgbaPixels {
  const t = golden(g, 'input.image_rgb');
  const [height, width] = t.shape as [number, number];
  const rgb = t.data as Uint8Array;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    data[i * 4 + 3] = alpha(i);
  }
  return { width, height, data };
}

// ---- a minimal PNG writer (8-bit RGBA, filter 0): stored values are exactly the given bytes ----------------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function chunk(type: string, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  let crc = 0xffffffff;
  for (let i = 4; i < 8 + data.length; i++) crc = (CRC_TABLE[(crc ^ (out[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  view.setUint32(8 + data.length, (crc ^ 0xffffffff) >>> 0);
  return out;
}

async function pngBlob(image: RgbaPixels): Promise<Blob> {
  const { width, height, data } = image;
  const raw = new Uint8Array(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  const zlib = new Uint8Array(await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer());
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8);
  const signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  return new Blob([signature, chunk('IHDR', header), chunk('IDAT', zlib), chunk('IEND', new Uint8Array(0))], { type: 'image/png' });
}

/** RGBA of an opaque blob as a 2D canvas decodes it (exact for opaque images). */
async function canvasRgba(blob: Blob): Promise<RgbaPixels> {
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
  g.drawImage(bitmap, 0, 0);
  bitmap.close();
  return g.getImageData(0, 0, canvas.width, canvas.height);
}

/** An opaque test picture drawn on a canvas, encoded as `type`. */
async function canvasBlob(type: string, width: number, height: number): Promise<Blob> {
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
  const gradient = g.createLinearGradient(0, 0, width, height);
  gradient.addColorStop(0, '#13a');
  gradient.addColorStop(1, '#fc2');
  g.fillStyle = gradient;
  g.fillRect(0, 0, width, height);
  g.fillStyle = '#e33';
  g.beginPath();
  g.arc(width / 2, height / 2, Math.min(width, height) / 3, 0, Math.PI * 2);
  g.fill();
  return canvas.convertToBlob({ type, quality: 0.9 });
}

/** A copy of a package source whose tatok tables are stored as float16 (manifest storage "float16"). */
async function float16Source(base: ModelSource): Promise<ModelSource> {
  const json = structuredClone(base.manifest) as Manifest;
  const tatok = json.components.tatok;
  if (!tatok) throw new Error('no tatok component');
  json.storage = 'float16';
  const tablePaths = new Set<string>();
  for (const [role, spec] of Object.entries(tatok.tables)) {
    spec.dtype = 'float16';
    const path = (tatok.files as Record<string, string>)[role] as string;
    tablePaths.add(path);
    const entry = json.files.find((f) => f.path === path);
    if (entry) entry.bytes /= 2;
  }
  const manifest = parseManifest(json);
  return {
    id: `${base.id}#float16`,
    manifest,
    file: async (path, signal) => {
      const bytes = await base.file(path, signal);
      if (!tablePaths.has(path)) return bytes;
      const half = toHalfArray(new Float32Array(bytes.slice().buffer));
      return new Uint8Array(half.buffer);
    },
  };
}

function inUse(ctx: GpuContext): number {
  return ctx.pool.stats().inUseBytes;
}

export interface IndicesCase {
  scale: number;
  row: number;
  actual: number[];
  expected: number[];
}

async function encodeCases(encoder: TatokEncoder, g: Goldens): Promise<IndicesCase[]> {
  const pixels = golden(g, 'input.encoder.pixel_values');
  const cases: IndicesCase[] = [];
  for (const scale of [1, 2, 3]) {
    const expected = golden(g, `output.indices.scale${scale}`);
    for (let b = 0; b < (pixels.shape[0] as number); b++) {
      const actual = await encoder.encodePixels(row<Float32Array>(pixels, b), scale);
      cases.push({ scale, row: b, actual: Array.from(actual), expected: Array.from(row<BigInt64Array>(expected, b), Number) });
    }
  }
  return cases;
}

export const tatokProbes = {
  /** The golden image (raw RGBA; as an opaque PNG read in canvas strips of 256 px; with random alpha as raw RGBA
   *  and as a PNG read in 16-px GPU tiles) → pixel_values. */
  async preprocessGolden(): Promise<{ fromRgba: Closeness; pngStrips: Closeness; alphaIgnored: Closeness; pngTiles: Closeness }> {
    const { encoder, goldens } = await setup();
    const expected = golden(goldens, 'output.pixel_values_from_image').data as Float32Array;
    const opaqueRgba = goldenRgba(goldens, () => 255);
    const opaque = await encoder.preprocess(opaqueRgba);
    const strips = await encoder.preprocess(await pngBlob(opaqueRgba), { tileSide: 16 });
    const random = new SeededRandom(7);
    const translucent = goldenRgba(goldens, (i) => (i % 5 === 0 ? 0 : Math.floor(random.next() * 256)));
    const withAlpha = await encoder.preprocess(translucent);
    const png = await encoder.preprocess(await pngBlob(translucent), { tileSide: 16 });
    return {
      fromRgba: compareArrays(opaque, expected, 1e-6, 0),
      pngStrips: compareArrays(strips, opaque, 0, 0),
      alphaIgnored: compareArrays(withAlpha, opaque, 0, 0),
      pngTiles: compareArrays(png, opaque, 0, 0),
    };
  },

  /** Golden pixel_values (both rows) and the golden image's raw RGBA → indices at every pool scale. */
  async encodeGolden(): Promise<{ pixels: IndicesCase[]; image: IndicesCase[]; inUseBefore: number; inUseAfter: number }> {
    const { ctx, encoder, goldens } = await setup();
    const inUseBefore = inUse(ctx);
    const pixels = await encodeCases(encoder, goldens);
    const image: IndicesCase[] = [];
    for (const scale of [1, 2, 3]) {
      const actual = await encoder.encode(goldenRgba(goldens, () => 255), scale);
      const expected = row<BigInt64Array>(golden(goldens, `output.indices.scale${scale}`), 0);
      image.push({ scale, row: 0, actual: Array.from(actual), expected: Array.from(expected, Number) });
    }
    return { pixels, image, inUseBefore, inUseAfter: inUse(ctx) };
  },

  /** Golden indices (scale 1, both rows) → decoder features vs the golden; scales 2 and 3 run (shape, finite). */
  async decodeGolden(): Promise<{ rows: Closeness[]; others: { scale: number; length: number; finite: boolean }[]; inUseBefore: number; inUseAfter: number }> {
    const { ctx, decoder, goldens } = await setup();
    const inUseBefore = inUse(ctx);
    const indices = golden(goldens, 'output.indices.scale1');
    const expected = golden(goldens, 'output.decoder.features');
    const rows: Closeness[] = [];
    for (let b = 0; b < (indices.shape[0] as number); b++) {
      const actual = await decoder.decode(Uint32Array.from(row<BigInt64Array>(indices, b), Number), 1);
      rows.push(compareArrays(actual, row<Float32Array>(expected, b), 1e-5, 1e-4));
    }
    const others = [];
    for (const scale of [2, 3]) {
      const features = await decoder.decode(Uint32Array.from(row<BigInt64Array>(golden(goldens, `output.indices.scale${scale}`), 0), Number), scale);
      others.push({ scale, length: features.length, finite: features.every(Number.isFinite) });
    }
    return { rows, others, inUseBefore, inUseAfter: inUse(ctx) };
  },

  /** The same package with float16 tables: indices at every scale and decoder features. */
  async float16Tables(): Promise<{ storage: string; pixels: IndicesCase[]; decode: Closeness; goldenMax: number }> {
    const { ctx, source, goldens } = await setup();
    const half = await float16Source(source);
    const encoder = await TatokEncoder.load(ctx, half);
    const decoder = await TatokDecoder.load(ctx, half);
    try {
      const pixels = await encodeCases(encoder, goldens);
      const indices = golden(goldens, 'output.indices.scale1');
      const expected = row<Float32Array>(golden(goldens, 'output.decoder.features'), 0);
      const actual = await decoder.decode(Uint32Array.from(row<BigInt64Array>(indices, 0), Number), 1);
      const goldenMax = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      return { storage: half.manifest.storage, pixels, decode: compareArrays(actual, expected, 0, 0), goldenMax };
    } finally {
      await encoder.release();
      await decoder.release();
    }
  },

  /** PNG with alpha (written here; also as an ImageBitmap), JPEG and WebP (canvas) → preprocess vs their RGBA, and indices. */
  async blobs(): Promise<{ kind: string; width: number; preprocess: Closeness; indices: number[] }[]> {
    const { encoder } = await setup();
    const random = new SeededRandom(11);
    const width = 61;
    const height = 45;
    const rgba: RgbaPixels = { width, height, data: new Uint8ClampedArray(width * height * 4).map(() => Math.floor(random.next() * 256)) };
    const inputs: { kind: string; blob: Blob; reference: RgbaPixels }[] = [{ kind: 'png+alpha', blob: await pngBlob(rgba), reference: rgba }];
    for (const type of ['image/jpeg', 'image/webp']) {
      const blob = await canvasBlob(type, width, height);
      inputs.push({ kind: blob.type, blob, reference: await canvasRgba(blob) });
    }
    const out = [];
    const bitmap = await createImageBitmap(inputs[0]?.blob as Blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    out.push({ kind: 'ImageBitmap', width: bitmap.width, preprocess: compareArrays(await encoder.preprocess(bitmap), await encoder.preprocess(rgba), 0, 0), indices: Array.from(await encoder.encode(bitmap, 2)) });
    bitmap.close();
    for (const { kind, blob, reference } of inputs) {
      const preprocess = compareArrays(await encoder.preprocess(blob), await encoder.preprocess(reference), 0, 0);
      out.push({ kind, width: reference.width, preprocess, indices: Array.from(await encoder.encode(blob, 2)) });
    }
    return out;
  },

  /** A large image: a side × side PNG (opaque: read in canvas strips; translucent: in GPU tiles of 2048 px) vs
   *  the same raw RGBA; timings. */
  async largeImage(side: number, translucent: boolean): Promise<{ closeness: Closeness; rawMs: number; blobMs: number; indices: number }> {
    const { encoder } = await setup();
    const data = new Uint8ClampedArray(side * side * 4);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const i = (y * side + x) * 4;
        data[i] = (x * 7 + y) & 255;
        data[i + 1] = (y * 5 + (x >> 3)) & 255;
        data[i + 2] = (x ^ y) & 255;
        data[i + 3] = translucent ? (x + y) & 255 : 255;
      }
    }
    const rgba = { width: side, height: side, data };
    let t = performance.now();
    const raw = await encoder.preprocess(rgba);
    const rawMs = performance.now() - t;
    const blob = await pngBlob(rgba);
    t = performance.now();
    const fromBlob = await encoder.preprocess(blob);
    const blobMs = performance.now() - t;
    return { closeness: compareArrays(fromBlob, raw, 0, 0), rawMs, blobMs, indices: (await encoder.encode(blob, 3)).length };
  },

  /** Every refusal, described; and the pool's inUse bytes before and after. */
  async errors(): Promise<{ errors: Record<string, ThrownError | null>; inUseBefore: number; inUseAfter: number }> {
    const { ctx, encoder, decoder } = await setup();
    const inUseBefore = inUse(ctx);
    const small: RgbaPixels = { width: 3, height: 2, data: new Uint8ClampedArray(24) };
    const size = encoder.config.imageSize;
    const k = encoder.config.codebookSize;
    const aborted = new AbortController();
    aborted.abort();
    const attempts: Record<string, () => unknown> = {
      notImage: () => encoder.encode(new Blob(['not an image'], { type: 'image/png' }), 1),
      emptyRgba: () => encoder.encode({ width: 0, height: 0, data: new Uint8ClampedArray(0) }, 1),
      emptyPng: async () => encoder.encode(await pngBlob({ width: 0, height: 0, data: new Uint8ClampedArray(0) }), 1),
      wideRgba: () => encoder.preprocess({ width: 20000, height: 1, data: new Uint8ClampedArray(80000) }),
      tooManyPixels: () => encoder.preprocess({ width: 9000, height: 8000, data: new Uint8ClampedArray(0) }),
      widePng: async () => encoder.preprocess(await pngBlob({ width: 17000, height: 1, data: new Uint8ClampedArray(68000) })),
      closedBitmap: async () => {
        const bitmap = await createImageBitmap(new ImageData(2, 2));
        bitmap.close();
        return encoder.preprocess(bitmap);
      },
      shortData: () => encoder.preprocess({ width: 2, height: 2, data: new Uint8ClampedArray(3) }),
      notAnImageObject: () => encoder.preprocess(42 as unknown as RgbaPixels),
      encodeScale: () => encoder.encode(small, 4),
      encodePixelsScale: () => encoder.encodePixels(new Float32Array(3 * size * size), 0),
      pixelCount: () => encoder.encodePixels(new Float32Array(5), 1),
      nanPixels: () => encoder.encodePixels(new Float32Array(3 * size * size).fill(Number.NaN), 2),
      abortedEncode: () => encoder.encode(small, 1, aborted.signal),
      decodeScale: () => decoder.decode(new Uint32Array(64), 5),
      decodeCount: () => decoder.decode(new Uint32Array(10), 1),
      decodeIndex: () => decoder.decode(new Uint32Array((decoder.config.decoderPositionGrids[0] as number) ** 2).fill(k), 1),
      abortedDecode: () => decoder.decode(new Uint32Array((decoder.config.decoderPositionGrids[2] as number) ** 2), 3, aborted.signal),
    };
    const errors: Record<string, ThrownError | null> = {};
    for (const [name, attempt] of Object.entries(attempts)) errors[name] = await describeErrorForTest(attempt);
    // Still working after the refusals.
    await encoder.encode(small, 3);
    return { errors, inUseBefore, inUseAfter: inUse(ctx) };
  },
};

export type TatokProbes = typeof tatokProbes;
