// The mean log-probabilities of several logits rows on the GPU (shaders/log_prob_mean.wgsl; the CPU reference is
// log-prob-mean-reference.ts): how chat's test-time views combine — each view of the picture runs on its own
// sequence, and the next token is drawn from (1/R) Σ_r log_softmax(row r). It does not draw the token
// (src/kernels/sample.ts does, from the row this writes).
import source from '../../shaders/log_prob_mean.wgsl?raw';
import { GpuLimitError, InvalidArgumentError, InvalidInputError } from '../errors.ts';
import { foldWorkgroups, type CommandRecorder, type GpuContext } from '../gpu/context.ts';
import type { KernelDefinition } from '../gpu/kernel.ts';
import { checkRowsShape, type RowsShape } from './log-prob-mean-reference.ts';

export const rowLogSumExpKernel: KernelDefinition = { name: 'log_prob_mean.row_lse', source, entryPoint: 'row_lse' };
export const meanRowsKernel: KernelDefinition = { name: 'log_prob_mean.mean_rows', source, entryPoint: 'mean_rows' };

const WORKGROUP_SIZE = 256;

/** Records the mean log-probabilities of `logits` [rows, vocab] (f32) over its first row, in place. */
export function recordLogProbMean(ctx: GpuContext, rec: CommandRecorder, shape: RowsShape, logits: GPUBuffer): void {
  checkRowsShape(shape);
  const bytes = shape.rows * shape.vocab * 4;
  if (logits.size < bytes) throw new InvalidArgumentError(`log_prob_mean: logits buffer of ${logits.size} bytes is smaller than [${shape.rows}, ${shape.vocab}] f32`);
  const { limits } = ctx.info;
  if (bytes > limits.maxStorageBufferBindingSize) throw new GpuLimitError('maxStorageBufferBindingSize', bytes, limits.maxStorageBufferBindingSize);
  if (shape.rows > limits.maxComputeWorkgroupsPerDimension) {
    throw new GpuLimitError('maxComputeWorkgroupsPerDimension', shape.rows, limits.maxComputeWorkgroupsPerDimension);
  }
  const lse = ctx.pool.acquire(shape.rows * 4, GPUBufferUsage.STORAGE, 'log_prob_mean.lse');
  const spec = { constants: { WORKGROUP_SIZE } };
  const uniforms = { rows: shape.rows, vocab: shape.vocab };
  rec.dispatch({ kernel: rowLogSumExpKernel, spec, uniforms, bindings: [logits, lse], workgroups: [shape.rows] });
  rec.dispatch({
    kernel: meanRowsKernel,
    spec,
    uniforms,
    bindings: [logits, lse],
    workgroups: foldWorkgroups(Math.ceil(shape.vocab / WORKGROUP_SIZE), limits.maxComputeWorkgroupsPerDimension),
  });
  ctx.pool.release(lse);
}

/** Uploads [rows, vocab], combines and reads back the mean row [vocab]. */
export async function logProbMean(ctx: GpuContext, shape: RowsShape, logits: Float32Array): Promise<Float32Array> {
  checkRowsShape(shape);
  if (logits.length !== shape.rows * shape.vocab) {
    throw new InvalidInputError(`log_prob_mean: ${logits.length} logits for a [${shape.rows}, ${shape.vocab}] shape`);
  }
  const buffer = ctx.upload(logits, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'log_prob_mean.logits');
  try {
    const rec = ctx.recorder('log_prob_mean');
    recordLogProbMean(ctx, rec, shape, buffer);
    const bytes = shape.vocab * 4;
    const staging = rec.copyToStaging(buffer, 0, bytes);
    rec.submit();
    return new Float32Array(await ctx.mapStaging(staging, bytes));
  } finally {
    buffer.destroy();
  }
}
