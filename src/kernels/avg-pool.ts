// Scale-adaptive average pooling on the GPU (shaders/avg_pool.wgsl) and its CPU reference. Pools a
// row-major token grid by kernel = stride = scale, dropping the rows/columns that do not fill a window
// (27×27 → 13×13 at scale 2, → 9×9 at scale 3). Does not choose the scale: the caller passes it.
import source from '../../shaders/avg_pool.wgsl?raw';
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';
import { foldWorkgroups, type CommandRecorder, type GpuContext } from '../gpu/context.ts';
import type { KernelDefinition } from '../gpu/kernel.ts';

export const avgPoolKernel: KernelDefinition = { name: 'avg_pool', source, entryPoint: 'main' };

const WORKGROUP_SIZE = 64;

export interface PoolShape {
  batch: number;
  height: number;
  width: number;
  channels: number;
  scale: number;
}

export function pooledGrid(shape: PoolShape): { outHeight: number; outWidth: number } {
  return { outHeight: Math.floor(shape.height / shape.scale), outWidth: Math.floor(shape.width / shape.scale) };
}

function validate(shape: PoolShape): void {
  for (const [name, value] of Object.entries(shape)) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`avg_pool: ${name} = ${value} must be a positive integer`);
  }
  if (shape.scale > shape.height || shape.scale > shape.width) {
    throw new InvalidArgumentError(`avg_pool: scale ${shape.scale} exceeds the ${shape.height}×${shape.width} grid`);
  }
}

/** Records the pooling of `tokens` [batch, height·width, channels] into `pooled`
 *  [batch, outHeight·outWidth, channels] (f32 buffers). */
export function recordAvgPool(
  ctx: GpuContext,
  rec: CommandRecorder,
  shape: PoolShape,
  tokens: GPUBuffer,
  pooled: GPUBuffer,
): void {
  validate(shape);
  const { outHeight, outWidth } = pooledGrid(shape);
  const total = shape.batch * outHeight * outWidth * shape.channels;
  const workgroups = Math.ceil(total / WORKGROUP_SIZE);
  rec.dispatch({
    kernel: avgPoolKernel,
    spec: { constants: { WORKGROUP_SIZE } },
    uniforms: { ...shape, outHeight, outWidth, total },
    bindings: [tokens, pooled],
    workgroups: foldWorkgroups(workgroups, ctx.info.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** Uploads, pools and reads back: [batch, height·width, channels] → [batch, outH·outW, channels]. */
export async function avgPool(ctx: GpuContext, shape: PoolShape, tokens: Float32Array): Promise<Float32Array> {
  validate(shape);
  const expected = shape.batch * shape.height * shape.width * shape.channels;
  if (tokens.length !== expected) {
    throw new InvalidInputError(`avg_pool: got ${tokens.length} values, expected ${expected} for the shape`);
  }
  const { outHeight, outWidth } = pooledGrid(shape);
  const outBytes = shape.batch * outHeight * outWidth * shape.channels * 4;
  const input = ctx.upload(tokens, GPUBufferUsage.STORAGE, 'avg_pool.tokens');
  const output = ctx.pool.acquire(outBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'avg_pool.out');
  const rec = ctx.recorder('avg_pool');
  recordAvgPool(ctx, rec, shape, input, output);
  const staging = rec.copyToStaging(output, 0, outBytes);
  rec.submit();
  const result = new Float32Array(await ctx.mapStaging(staging, outBytes));
  ctx.pool.release(output);
  input.destroy();
  return result;
}

/** CPU reference (float64 accumulation), same layout as the kernel. */
export function avgPoolReference(shape: PoolShape, tokens: Float32Array): Float32Array {
  validate(shape);
  const { outHeight, outWidth } = pooledGrid(shape);
  const { batch, width, height, channels, scale } = shape;
  const out = new Float32Array(batch * outHeight * outWidth * channels);
  for (let b = 0; b < batch; b++)
    for (let oy = 0; oy < outHeight; oy++)
      for (let ox = 0; ox < outWidth; ox++)
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let dy = 0; dy < scale; dy++)
            for (let dx = 0; dx < scale; dx++)
              sum += tokens[((b * height + oy * scale + dy) * width + ox * scale + dx) * channels + c] as number;
          out[((b * outHeight + oy) * outWidth + ox) * channels + c] = sum / (scale * scale);
        }
  return out;
}
