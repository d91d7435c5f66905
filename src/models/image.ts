// Image input for TA-Tok: any image (an encoded Blob, an ImageBitmap, or raw RGBA pixels) → pixel_values
// [1, 3, S, S] in [-1, 1], as the official demo scripts do it (TAR_SPEC §1.2): RGB as stored, /255,
// (x − 0.5)/0.5, then a bilinear squash to S×S (align_corners = False, no antialias; torch F.interpolate).
// It does not run the encoder, and it keeps no aspect ratio (the official path squashes).
//
// Choices, documented:
// - Alpha is DROPPED, not composited: PIL's `.convert('RGB')` keeps the RGB channels as stored. For raw RGBA the
//   fourth byte is ignored. Encoded images are decoded with `premultiplyAlpha: 'none'` and
//   `colorSpaceConversion: 'none'`, then read 1:1 (never resized by the browser, which would change pixels):
//   first through a 2D canvas in strips (fast; exact when every pixel read is opaque), and when any pixel read
//   has alpha < 255 again through a WebGPU texture copied with `premultipliedAlpha: false` in tiles (a canvas
//   premultiplies, which would lose the stored colour of transparent pixels).
// - Only the source pixels the bilinear squash reads (at most 2·S rows × 2·S columns) are kept; strips and tiles
//   hold at most TILE_SIDE² pixels, so memory stays small for big images.
// - Limits: a side of at most IMAGE_LIMITS.maxSide px and at most IMAGE_LIMITS.maxPixels pixels (an 8000×8000
//   image works); beyond, or 0×0, or not decodable → InvalidInputError.
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';

/** Raw RGBA pixels, row-major, 4 bytes a pixel (an ImageData fits). */
export interface RgbaPixels {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

export type ImageInput = Blob | ImageBitmap | RgbaPixels;

export const IMAGE_LIMITS = { maxSide: 16384, maxPixels: 2 ** 26 } as const;

/** Side of the square GPU tiles an encoded image is read in (smaller when the device's textures are); canvas
 *  strips hold as many pixels. */
export const TILE_SIDE = 2048;

/** One axis of the bilinear squash: output position i reads source i0[i] (weight w0[i]) and i1[i] (w1[i]). */
export interface BilinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

/** torch upsample_bilinear2d (align_corners = False) index and weight rules, as torch 1.13's CPU kernel computes
 *  them (matched weight for weight): scale = in/out rounded to float32; src = max(scale·(dst + 0.5) − 0.5, 0)
 *  in float64; i0 = floor(src), i1 = i0 + 1 clamped to the edge; w1 = float32(src − i0), w0 = 1 − w1. */
export function bilinearAxis(inSize: number, outSize: number): BilinearAxis {
  const f = Math.fround;
  const scale = f(inSize / outSize);
  const axis: BilinearAxis = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  };
  for (let dst = 0; dst < outSize; dst++) {
    const real = Math.max(scale * (dst + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(real), inSize - 1);
    const lambda = f(Math.min(Math.max(real - i0, 0), 1));
    axis.i0[dst] = i0;
    axis.i1[dst] = i0 < inSize - 1 ? i0 + 1 : i0;
    axis.w1[dst] = lambda;
    axis.w0[dst] = f(1 - lambda);
  }
  return axis;
}

/** Sorted distinct source positions an axis reads, and each output's slots in that list. */
interface Needed {
  positions: Int32Array;
  slot0: Int32Array;
  slot1: Int32Array;
}

function neededPositions(axis: BilinearAxis): Needed {
  const positions = Int32Array.from(new Set([...axis.i0, ...axis.i1])).sort();
  const slotOf = new Map<number, number>();
  positions.forEach((p, i) => slotOf.set(p, i));
  return {
    positions,
    slot0: axis.i0.map((p) => slotOf.get(p) as number),
    slot1: axis.i1.map((p) => slotOf.get(p) as number),
  };
}

function checkSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new InvalidInputError(`${what}: size ${width}×${height} is not a pair of non-negative integers`);
  }
  if (width === 0 || height === 0) throw new InvalidInputError(`${what} is empty (${width}×${height})`);
  if (width > IMAGE_LIMITS.maxSide || height > IMAGE_LIMITS.maxSide || width * height > IMAGE_LIMITS.maxPixels) {
    throw new InvalidInputError(
      `${what} is ${width}×${height}; the limit is ${IMAGE_LIMITS.maxSide} px a side and ${IMAGE_LIMITS.maxPixels} pixels`,
    );
  }
}

function isRgba(input: ImageInput): input is RgbaPixels {
  return typeof input === 'object' && input !== null && 'data' in input && 'width' in input && 'height' in input;
}

/** Decodes an encoded image (PNG, JPEG, WebP, … whatever the browser decodes) without premultiplying alpha or
 *  converting colour spaces. The caller closes the bitmap. */
export async function decodeImageBlob(blob: Blob): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new InvalidInputError(`the ${blob.size}-byte blob (type "${blob.type || 'unknown'}") is not a decodable image: ${why}`);
  }
}

/** The RGB bytes [rows.length, cols.length, 3] at the given source rows and columns of raw RGBA. */
function gatherFromRgba(image: RgbaPixels, rows: Int32Array, cols: Int32Array): Uint8Array {
  const out = new Uint8Array(rows.length * cols.length * 3);
  let o = 0;
  for (const y of rows) {
    for (const x of cols) {
      const i = (y * image.width + x) * 4;
      out[o++] = image.data[i] as number;
      out[o++] = image.data[i + 1] as number;
      out[o++] = image.data[i + 2] as number;
    }
  }
  return out;
}

/** The same from an ImageBitmap drawn 1:1 into a 2D canvas in strips of whole rows (strips holding no needed row
 *  are skipped); `opaque` is false when a pixel read has alpha < 255 (its RGB is then premultiplied, not stored). */
function gatherFromCanvas(bitmap: ImageBitmap, rows: Int32Array, cols: Int32Array, tileSide: number): { rgb: Uint8Array; opaque: boolean } {
  const rgb = new Uint8Array(rows.length * cols.length * 3);
  const width = bitmap.width;
  const stripRows = Math.min(bitmap.height, Math.max(1, Math.floor((tileSide * tileSide) / width)));
  const canvas = new OffscreenCanvas(width, stripRows);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  if (!g) throw new InvalidInputError('image: no 2D canvas context to read the image with');
  g.imageSmoothingEnabled = false;
  let opaque = true;
  let r = 0;
  while (r < rows.length) {
    const y0 = rows[r] as number;
    const h = Math.min(stripRows, bitmap.height - y0);
    g.clearRect(0, 0, width, stripRows);
    g.drawImage(bitmap, 0, y0, width, h, 0, 0, width, h);
    const strip = g.getImageData(0, 0, width, h).data;
    for (; r < rows.length && (rows[r] as number) < y0 + h; r++) {
      const rowBase = ((rows[r] as number) - y0) * width * 4;
      for (let c = 0; c < cols.length; c++) {
        const i = rowBase + (cols[c] as number) * 4;
        const o = (r * cols.length + c) * 3;
        rgb[o] = strip[i] as number;
        rgb[o + 1] = strip[i + 1] as number;
        rgb[o + 2] = strip[i + 2] as number;
        if (strip[i + 3] !== 255) opaque = false;
      }
    }
  }
  return { rgb, opaque };
}

/** The needed RGB of an ImageBitmap: canvas strips, or GPU tiles when a pixel read is translucent. */
async function gatherFromImageBitmap(ctx: GpuContext, bitmap: ImageBitmap, rows: Int32Array, cols: Int32Array, tileSide: number): Promise<Uint8Array> {
  const { rgb, opaque } = gatherFromCanvas(bitmap, rows, cols, tileSide);
  return opaque ? rgb : gatherFromTexture(ctx, bitmap, rows, cols, tileSide);
}

/** The same from an ImageBitmap, copied tile by tile into an rgba8unorm texture (unpremultiplied) and read back;
 *  tiles holding no needed pixel are skipped. */
async function gatherFromTexture(
  ctx: GpuContext,
  bitmap: ImageBitmap,
  rows: Int32Array,
  cols: Int32Array,
  tileSide: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(rows.length * cols.length * 3);
  const side = Math.min(tileSide, ctx.device.limits.maxTextureDimension2D);
  const tileW = Math.min(side, bitmap.width);
  const tileH = Math.min(side, bitmap.height);
  const bytesPerRow = Math.ceil((tileW * 4) / 256) * 256;
  const texture = ctx.device.createTexture({
    label: 'image.tile',
    size: [tileW, tileH],
    format: 'rgba8unorm',
    usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.RENDER_ATTACHMENT,
  });
  const staging = ctx.device.createBuffer({
    label: 'image.tile.staging',
    size: bytesPerRow * tileH,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    for (let y0 = 0; y0 < bitmap.height; y0 += tileH) {
      const h = Math.min(tileH, bitmap.height - y0);
      const rowSlots = [...rows.keys()].filter((r) => (rows[r] as number) >= y0 && (rows[r] as number) < y0 + h);
      if (rowSlots.length === 0) continue;
      for (let x0 = 0; x0 < bitmap.width; x0 += tileW) {
        const w = Math.min(tileW, bitmap.width - x0);
        const colSlots = [...cols.keys()].filter((c) => (cols[c] as number) >= x0 && (cols[c] as number) < x0 + w);
        if (colSlots.length === 0) continue;
        ctx.loss.assertAlive();
        ctx.device.queue.copyExternalImageToTexture(
          { source: bitmap, origin: { x: x0, y: y0 } },
          { texture, premultipliedAlpha: false },
          [w, h],
        );
        const encoder = ctx.device.createCommandEncoder({ label: 'image.tile' });
        encoder.copyTextureToBuffer({ texture }, { buffer: staging, bytesPerRow }, [w, h]);
        ctx.device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const tile = new Uint8Array(staging.getMappedRange());
        for (const r of rowSlots) {
          const rowBase = ((rows[r] as number) - y0) * bytesPerRow;
          for (const c of colSlots) {
            const i = rowBase + ((cols[c] as number) - x0) * 4;
            const o = (r * cols.length + c) * 3;
            out[o] = tile[i] as number;
            out[o + 1] = tile[i + 1] as number;
            out[o + 2] = tile[i + 2] as number;
          }
        }
        staging.unmap();
      }
    }
  } finally {
    staging.destroy();
    texture.destroy();
  }
  return out;
}

export interface PreprocessOptions {
  /** Tile side (and strip size) for reading encoded images (tests use small ones); default TILE_SIDE. */
  tileSide?: number;
}

/** Any image → pixel_values [1, 3, size, size] (channel-major) in [-1, 1]. */
export async function imageToPixelValues(
  ctx: GpuContext,
  input: ImageInput,
  size: number,
  options: PreprocessOptions = {},
): Promise<Float32Array> {
  if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`image: output size ${size} must be a positive integer`);
  const tileSide = options.tileSide ?? TILE_SIDE;
  if (!Number.isInteger(tileSide) || tileSide < 1) throw new InvalidArgumentError(`image: tile side ${tileSide} must be a positive integer`);
  if (isRgba(input)) {
    checkSize(input.width, input.height, 'the RGBA image');
    if (input.data.length !== input.width * input.height * 4) {
      throw new InvalidInputError(`the RGBA image has ${input.data.length} bytes, expected ${input.width}·${input.height}·4`);
    }
    return squash(input.width, input.height, size, (rows, cols) => Promise.resolve(gatherFromRgba(input, rows, cols)));
  }
  if (input instanceof Blob) {
    const bitmap = await decodeImageBlob(input);
    try {
      checkSize(bitmap.width, bitmap.height, 'the decoded image');
      return await squash(bitmap.width, bitmap.height, size, (rows, cols) => gatherFromImageBitmap(ctx, bitmap, rows, cols, tileSide));
    } finally {
      bitmap.close();
    }
  }
  if (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) {
    checkSize(input.width, input.height, 'the ImageBitmap (closed bitmaps are 0×0)');
    return squash(input.width, input.height, size, (rows, cols) => gatherFromImageBitmap(ctx, input, rows, cols, tileSide));
  }
  throw new InvalidInputError('image: expected a Blob, an ImageBitmap or {width, height, data} RGBA pixels');
}

/** Normalises and squashes: reads the needed source pixels through `gather`, then per channel
 *  out = h0·(w0·x00 + w1·x01) + h1·(w0·x10 + w1·x11) in float32 on (x/255 − 0.5)/0.5. */
async function squash(
  width: number,
  height: number,
  size: number,
  gather: (rows: Int32Array, cols: Int32Array) => Promise<Uint8Array>,
): Promise<Float32Array> {
  const f = Math.fround;
  const ys = bilinearAxis(height, size);
  const xs = bilinearAxis(width, size);
  const rows = neededPositions(ys);
  const cols = neededPositions(xs);
  const rgb = await gather(rows.positions, cols.positions); // [rows, cols, 3] bytes
  const norm = new Float32Array(256); // byte → (byte/255 − 0.5)/0.5 in float32
  for (let v = 0; v < 256; v++) norm[v] = f(f(f(v / 255) - 0.5) / 0.5);
  const stride = cols.positions.length * 3;
  const out = new Float32Array(3 * size * size); // [3, size, size]
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      const r0 = (rows.slot0[y] as number) * stride + c;
      const r1 = (rows.slot1[y] as number) * stride + c;
      const h0 = ys.w0[y] as number;
      const h1 = ys.w1[y] as number;
      const o = (c * size + y) * size;
      for (let x = 0; x < size; x++) {
        const c0 = (cols.slot0[x] as number) * 3;
        const c1 = (cols.slot1[x] as number) * 3;
        const w0 = xs.w0[x] as number;
        const w1 = xs.w1[x] as number;
        const top = f(f(w0 * (norm[rgb[r0 + c0] as number] as number)) + f(w1 * (norm[rgb[r0 + c1] as number] as number)));
        const bottom = f(f(w0 * (norm[rgb[r1 + c0] as number] as number)) + f(w1 * (norm[rgb[r1 + c1] as number] as number)));
        out[o + x] = f(f(h0 * top) + f(h1 * bottom));
      }
    }
  }
  return out;
}
