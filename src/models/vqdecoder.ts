// VqDecoder: the LlamaGen VQ-16 image decoder (TAR_SPEC §4) of a model package's `vq` component. Turns a
// square grid of VQ codes into RGBA pixels: vq/decoder.onnx in onnxruntime-web on the engine's shared device
// (codes int64 [1,side,side] → image [1,3,f·side,f·side] in ~[-1,1], f = manifest vq.downsample, left on the
// GPU), then shaders/vq_to_rgba.wgsl (x·0.5 + 0.5, clamp to [0,1], ·255, truncate, alpha 255), and one
// readback of the packed pixels. Also decodes partial grids as previews (see `fillPreviewCodes`).
// It does not produce the codes (src/decoders/ardtok.ts does) nor display anything.
import vqToRgbaSource from '../../shaders/vq_to_rgba.wgsl?raw';
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';
import { foldWorkgroups, type GpuContext } from '../gpu/context.ts';
import type { KernelDefinition } from '../gpu/kernel.ts';
import { externalDataPaths, type VqConfig } from '../model/manifest.ts';
import { ModelSourceError, type ModelSource } from '../model/source.ts';
import { createSharedSession, ort, runSession } from '../ort/session.ts';

export const vqToRgbaKernel: KernelDefinition = { name: 'vq_to_rgba', source: vqToRgbaSource, entryPoint: 'main' };

const WORKGROUP_SIZE = 64;

export interface RgbaImage {
  width: number;
  height: number;
  /** width · height · 4 bytes, row-major RGBA. */
  data: Uint8ClampedArray;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/**
 * The full grid a preview decodes when only the first `known` codes (raster order) exist. Unknown cells copy
 * the cell one row above (so the last known rows are stretched downwards, which looks like the picture
 * continues); cells of the first row with nothing above take the last known code, and code 0 when none is
 * known. Previews are for the UI only: the final image always decodes the complete grid.
 */
export function fillPreviewCodes(codes: Uint32Array, side: number, known: number): Uint32Array {
  const total = side * side;
  const grid = new Uint32Array(total);
  grid.set(codes.subarray(0, known));
  const last = known > 0 ? (codes[known - 1] as number) : 0;
  for (let i = known; i < total; i++) grid[i] = i >= side ? (grid[i - side] as number) : last;
  return grid;
}

/** Checks codes, side and known against a codebook of `codebookSize` entries (typed errors). Codes past
 *  `known` are ignored, so a preview may pass a buffer that is still being filled, or only the known codes. */
export function checkCodes(codes: Uint32Array, side: number, known: number, codebookSize: number): void {
  if (!Number.isSafeInteger(side) || side < 1) throw new InvalidArgumentError(`vq decode: side ${side} must be a positive integer`);
  const total = side * side;
  if (!Number.isSafeInteger(known) || known < 0 || known > total) {
    throw new InvalidArgumentError(`vq decode: known ${known} must be an integer in [0, ${total}] (side ${side})`);
  }
  if (known === total ? codes.length !== total : codes.length < known || codes.length > total) {
    const expected = known === total ? `${total}` : `between ${known} and ${total}`;
    throw new InvalidInputError(`vq decode: got ${codes.length} codes, expected ${expected} for a ${side}×${side} grid`);
  }
  for (let i = 0; i < known; i++) {
    const code = codes[i] as number;
    if (code >= codebookSize) {
      throw new InvalidInputError(`vq decode: code ${code} at index ${i} is outside the codebook of ${codebookSize}`);
    }
  }
}

/** Loads an ONNX graph of the package with its external data files (roles `<role>Data`, `<role>Data1`, …). */
async function loadGraph(
  ctx: GpuContext,
  source: ModelSource,
  files: Record<string, string>,
  role: string,
  options: Parameters<typeof createSharedSession>[2],
  signal?: AbortSignal,
): Promise<ort.InferenceSession> {
  const path = files[role];
  if (path === undefined) throw new ModelSourceError(`the package names no "${role}" file`);
  const model = await source.file(path, signal);
  const externalData = [];
  for (const data of externalDataPaths(files, role)) {
    externalData.push({ path: data.slice(data.lastIndexOf('/') + 1), data: await source.file(data, signal) });
  }
  throwIfAborted(signal);
  return createSharedSession(ctx.device, model, { ...options, externalData });
}

export class VqDecoder {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly session: ort.InferenceSession,
    readonly config: VqConfig,
  ) {}

  static async load(ctx: GpuContext, source: ModelSource, signal?: AbortSignal): Promise<VqDecoder> {
    const vq = source.manifest.components.vq;
    if (!vq) throw new ModelSourceError(`package ${source.id} has no vq component`);
    const session = await loadGraph(ctx, source, vq.files, 'decoder', { preferredOutputLocation: { image: 'gpu-buffer' } }, signal);
    return new VqDecoder(ctx, session, vq.config);
  }

  /** codes [side²] (raster order) → RGBA pixels of (downsample·side)². `known` < side²: a preview, the unknown
   *  codes filled as `fillPreviewCodes` documents. Rejects with the signal's reason when aborted. */
  async decode(codes: Uint32Array, side: number, known = side * side, signal?: AbortSignal): Promise<RgbaImage> {
    checkCodes(codes, side, known, this.config.codebookSize);
    throwIfAborted(signal);
    const grid = known === side * side ? codes : fillPreviewCodes(codes, side, known);
    const ids = BigInt64Array.from(grid, (c) => BigInt(c));
    const outputs = await runSession(this.session, { codes: new ort.Tensor('int64', ids, [1, side, side]) });
    const image = outputs.image as ort.Tensor;
    try {
      throwIfAborted(signal);
      const [, channels, height, width] = image.dims as [number, number, number, number];
      if (channels !== 3 || height !== side * this.config.downsample || width !== side * this.config.downsample) {
        throw new InvalidInputError(`vq decode: the graph returned an image of shape [${image.dims.join(', ')}]`);
      }
      const data = await this.toRgba(image.gpuBuffer as GPUBuffer, height * width);
      throwIfAborted(signal);
      return { width, height, data };
    } finally {
      image.dispose();
    }
  }

  /** image [3, pixels] f32 on the GPU → RGBA bytes (one dispatch, one readback). */
  private async toRgba(image: GPUBuffer, pixels: number): Promise<Uint8ClampedArray> {
    const ctx = this.ctx;
    const bytes = pixels * 4;
    const rgba = ctx.pool.acquire(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'vq_to_rgba.out');
    try {
      const rec = ctx.recorder('vq_to_rgba');
      rec.dispatch({
        kernel: vqToRgbaKernel,
        spec: { constants: { WORKGROUP_SIZE } },
        uniforms: { pixels },
        bindings: [{ buffer: image, offset: 0, size: pixels * 3 * 4 }, rgba],
        workgroups: foldWorkgroups(Math.ceil(pixels / WORKGROUP_SIZE), ctx.info.limits.maxComputeWorkgroupsPerDimension),
      });
      const staging = rec.copyToStaging(rgba, 0, bytes);
      rec.submit();
      return new Uint8ClampedArray(await ctx.mapStaging(staging, bytes));
    } finally {
      ctx.pool.release(rgba);
    }
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
