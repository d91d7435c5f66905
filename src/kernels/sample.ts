// Token sampling on the GPU (shaders/sample_*.wgsl): guidance (with its conditional min-p filter),
// temperature, token range, top-k, top-p and the draw with a caller-supplied uniform per row, in one
// submit, leaving only the chosen ids (u32 per row) to read back. Semantics and validation are those of
// src/kernels/sample-reference.ts; this file does not generate the uniforms (the caller's seeded generator does).
//
// Candidate path (top-k in 1..CAP, temperature > 0), per output row, 8 dispatches:
//   clear → histogram A of key bits 31..20 over a sample (1 token in 8 for large ranges) → pick a
//   gather floor with a safety margin → gather (every token at or above the floor into a bucket list
//   and an exact histogram B) → pick the bin of the k-th largest → histogram C of bits 19..8 of the
//   bucket entries in that bin → pick: the threshold is the floor of a 256-key bin (≥ k tokens, ties
//   included, usually a handful more) → finish: sort in workgroup memory (bitonic; a one-invocation
//   heap sort on CPU adapters), top-k, top-p, draw.
//   About 1⅛ passes over the logits. If the sample misled (fewer than k tokens gathered) or the bucket
//   list overflowed, the row takes the general path inside finish: still exact, only slower.
// With the conditional min-p filter, one more dispatch first writes each row's threshold (the largest
// conditional value plus ln minP) for the others to read.
// General path (greedy, top-k disabled or > CAP, or more candidates than CAP): finish alone scans the
// token range by binary search on the draw order; exact but one reduction per bit (slower).
import commonSource from '../../shaders/sample_common.wgsl?raw';
import compactSource from '../../shaders/sample_compact.wgsl?raw';
import finishSource from '../../shaders/sample_finish.wgsl?raw';
import histogramSource from '../../shaders/sample_histogram.wgsl?raw';
import logitsSource from '../../shaders/sample_logits.wgsl?raw';
import selectSource from '../../shaders/sample_select.wgsl?raw';
import thresholdSource from '../../shaders/sample_threshold.wgsl?raw';
import { GpuLimitError, InvalidArgumentError, InvalidInputError } from '../errors.ts';
import { foldWorkgroups, type CommandRecorder, type GpuContext } from '../gpu/context.ts';
import type { KernelDefinition } from '../gpu/kernel.ts';
import { checkUniforms, planSample, type SamplePlan, type SampleSettings, type SampleShape } from './sample-reference.ts';

const selectModule = `${commonSource}\n${selectSource}`;
const withLogits = (stage: string): string => `${commonSource}\n${logitsSource}\n${stage}`;

export const sampleThresholdKernel: KernelDefinition = {
  name: 'sample.cond_threshold',
  source: `${commonSource}\n${thresholdSource}`,
  entryPoint: 'cond_threshold',
};
export const sampleClearKernel: KernelDefinition = { name: 'sample.clear', source: selectModule, entryPoint: 'clear' };
export const samplePickBinKernel: KernelDefinition = { name: 'sample.pick_bin', source: selectModule, entryPoint: 'pick_bin' };
export const sampleHistogramKernel: KernelDefinition = { name: 'sample.histogram', source: withLogits(histogramSource), entryPoint: 'histogram' };
export const sampleCompactKernel: KernelDefinition = { name: 'sample.compact', source: withLogits(compactSource), entryPoint: 'compact' };
export const sampleFinishKernel: KernelDefinition = { name: 'sample.finish', source: withLogits(finishSource), entryPoint: 'finish' };

/** Written for a row whose token range holds no finite value. */
export const SAMPLE_NO_TOKEN = 0xffffffff;

const WORKGROUP_SIZE = 256;
/** The finish kernel's workgroup: 256 on GPUs; 64 on a fallback (CPU) adapter, where each barrier
 *  switches every invocation and the one-workgroup sort ran ~2.5× faster with 64 (measured). */
function finishWorkgroupSize(ctx: GpuContext): number {
  return ctx.info.adapter.isFallbackAdapter ? 64 : WORKGROUP_SIZE;
}
/** Tokens per invocation in the passes over the logits: 16 on GPUs; 64 on a fallback (CPU) adapter,
 *  where each workgroup has a fixed start-up cost (V = 217,206: ~7 ms with 64 against ~10 ms with 16
 *  and ~15 ms with 4, measured on SwiftShader). */
function scanItems(ctx: GpuContext): number {
  return ctx.info.adapter.isFallbackAdapter ? 64 : 16;
}
const BINS = 4096;
const STATE = 8;
/** Bucket-list entries per row: the tokens at or above the gather floor (about 8 × the sampled rank,
 *  plus the floor bin's width) rarely number more; when they do, the row takes the general path. */
const BUCKET = 16384;

/** Candidates the finish kernel sorts in workgroup memory: 2048 where 8 bytes each plus the reduction
 *  arrays fit, else 1024. */
export function sampleCandidateCapacity(ctx: GpuContext): number {
  const reduction = finishWorkgroupSize(ctx) * 12 + 8;
  return ctx.info.limits.maxComputeWorkgroupStorageSize >= 2048 * 8 + reduction ? 2048 : 1024;
}

export interface SampleOptions {
  /** Histogram in workgroup memory before the global merge. Default: on, except on a fallback (CPU)
   *  adapter such as SwiftShader, where workgroup atomics are far slower than global ones. */
  localHistogram?: boolean;
  /** Tokens per invocation in the passes over the logits (default by adapter, see scanItems). */
  itemsPerInvocation?: number;
  /** Candidates sorted by one invocation (heap sort) instead of a bitonic network. Default: only on a
   *  fallback (CPU) adapter, where it was faster (measured). */
  sequentialSort?: boolean;
  /** Diagnostics: receives a copy of the per-row state words [rows, 8] u32 (needs COPY_DST): 4 = tokens
   *  at or above the candidate threshold (SAMPLE_NO_TOKEN: the row took the general path), 5 = bucket-list
   *  appends (> 16384: overflow). Candidate path only. */
  stateOut?: GPUBuffer;
}

/** One token in `stride` feeds the first histogram: 8 when the rank sought there still lies in the top
 *  eighth of the sample, else 1 (exact). */
export function sampleStride(span: number, topK: number): number {
  return topK > 0 && span / 8 >= 8 * sampledRank(topK, 8) ? 8 : 1;
}

/** The rank sought in the sampled histogram: k / stride scaled by 1.25 plus 4 binomial standard
 *  deviations and 16, so that fewer than k tokens at or above the chosen bin (the row then takes the
 *  general path) needs a sample far off its expectation. */
export function sampledRank(topK: number, stride: number): number {
  if (stride === 1) return topK;
  const expected = topK / stride;
  return Math.ceil(1.25 * expected + 4 * Math.sqrt(expected) + 16);
}

function idBits(span: number): number {
  return span <= 1 ? 1 : 32 - Math.clz32(span - 1);
}

function checkLimits(ctx: GpuContext, plan: SamplePlan, shape: SampleShape, items: number): void {
  const { limits } = ctx.info;
  const logitBytes = shape.batch * shape.vocab * 4;
  if (logitBytes > limits.maxStorageBufferBindingSize) {
    throw new GpuLimitError('maxStorageBufferBindingSize', logitBytes, limits.maxStorageBufferBindingSize);
  }
  const scratch = Math.max(plan.rows.length * 3 * BINS * 4, plan.rows.length * BUCKET * 8);
  if (scratch > limits.maxStorageBufferBindingSize) {
    throw new GpuLimitError('maxStorageBufferBindingSize', scratch, limits.maxStorageBufferBindingSize);
  }
  const chunks = Math.ceil((plan.hi - plan.lo) / (WORKGROUP_SIZE * items));
  const most = Math.max(chunks, plan.rows.length);
  if (most > limits.maxComputeWorkgroupsPerDimension) {
    throw new GpuLimitError('maxComputeWorkgroupsPerDimension', most, limits.maxComputeWorkgroupsPerDimension);
  }
}

/** Records the sampling of `logits` [batch, vocab] (f32) into `ids` (u32, one per output row: batch rows,
 *  or one per guidance pair). `uniforms`: one u ∈ [0, 1) per output row. Nothing is read back; rows whose
 *  range has no finite value get SAMPLE_NO_TOKEN. */
export function recordSample(
  ctx: GpuContext,
  rec: CommandRecorder,
  shape: SampleShape,
  settings: SampleSettings,
  logits: GPUBuffer,
  uniforms: ArrayLike<number>,
  ids: GPUBuffer,
  options: SampleOptions = {},
): void {
  const plan = planSample(shape, settings);
  checkUniforms(plan, uniforms);
  const rows = plan.rows.length;
  if (logits.size < shape.batch * shape.vocab * 4) {
    throw new InvalidArgumentError(`sample: logits buffer of ${logits.size} bytes is smaller than [${shape.batch}, ${shape.vocab}] f32`);
  }
  if (ids.size < rows * 4) throw new InvalidArgumentError(`sample: ids buffer of ${ids.size} bytes is smaller than ${rows} u32`);
  const ITEMS = options.itemsPerInvocation ?? scanItems(ctx);
  if (!Number.isInteger(ITEMS) || ITEMS < 1) throw new InvalidArgumentError(`sample: ${ITEMS} tokens per invocation`);
  const cap = sampleCandidateCapacity(ctx);
  checkLimits(ctx, plan, shape, ITEMS);

  const info = new Uint32Array(rows * 4);
  const bits = new Float32Array(1);
  plan.rows.forEach((row, r) => {
    bits[0] = uniforms[r] as number;
    info.set([row.cond, row.uncond, new Uint32Array(bits.buffer)[0] as number, 0], r * 4);
  });
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const rowInfo = ctx.pool.acquire(info.byteLength, usage, 'sample.rowInfo');
  ctx.device.queue.writeBuffer(rowInfo, 0, info);
  const hist = ctx.pool.acquire(rows * 3 * BINS * 4, GPUBufferUsage.STORAGE, 'sample.hist');
  const state = ctx.pool.acquire(rows * STATE * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'sample.state');
  const bucket = ctx.pool.acquire(rows * BUCKET * 8, GPUBufferUsage.STORAGE, 'sample.bucket');

  const general = plan.greedy || plan.topK === 0 || plan.topK > cap;
  const span = plan.hi - plan.lo;
  const chunks = Math.ceil(span / (WORKGROUP_SIZE * ITEMS));
  const stride = sampleStride(span, plan.topK);
  const base = {
    vocab: shape.vocab,
    lo: plan.lo,
    hi: plan.hi,
    topK: plan.topK,
    topP: plan.topP,
    invTemp: plan.invTemp,
    greedy: plan.greedy ? 1 : 0,
    guided: plan.guided ? 1 : 0,
    guidance: plan.guidance,
    condFilter: plan.condFilter ? 1 : 0,
    condFloor: plan.condFloor,
    rows,
    general: general ? 1 : 0,
    level: 0,
    idBits: idBits(plan.hi - plan.lo),
    stride,
    want0: sampledRank(plan.topK, stride),
  };
  const maxGroups = ctx.info.limits.maxComputeWorkgroupsPerDimension;
  const scan = { WORKGROUP_SIZE, ITEMS };
  const localHistogram = options.localHistogram ?? !ctx.info.adapter.isFallbackAdapter;
  if (plan.condFilter) {
    rec.dispatch({
      kernel: sampleThresholdKernel,
      spec: { constants: { WORKGROUP_SIZE } },
      uniforms: base,
      bindings: [logits, rowInfo],
      workgroups: [rows],
    });
  }
  if (!general) {
    rec.dispatch({
      kernel: sampleClearKernel,
      spec: { constants: { WORKGROUP_SIZE, BUCKET } },
      uniforms: base,
      bindings: [hist, state],
      workgroups: foldWorkgroups(Math.ceil((rows * 3 * BINS) / WORKGROUP_SIZE), maxGroups),
    });
    rec.dispatch({
      kernel: sampleHistogramKernel,
      spec: { constants: { ...scan, LOCAL_HIST: localHistogram ? 1 : 0 } },
      uniforms: base,
      bindings: [logits, rowInfo, hist],
      workgroups: [Math.ceil(span / stride / (WORKGROUP_SIZE * ITEMS)), rows],
    });
    for (const level of [0, 1, 2]) {
      rec.dispatch({
        kernel: samplePickBinKernel,
        spec: { constants: { WORKGROUP_SIZE, BUCKET } },
        uniforms: { ...base, level },
        bindings: [hist, state],
        workgroups: [rows],
      });
      if (level < 2) {
        rec.dispatch({
          kernel: sampleCompactKernel,
          spec: { constants: { ...scan, BUCKET } },
          uniforms: { ...base, level: level + 1 },
          bindings: [logits, rowInfo, state, hist, bucket],
          workgroups: [level === 0 ? chunks : Math.ceil(BUCKET / (WORKGROUP_SIZE * ITEMS)), rows],
        });
      }
    }
  }
  rec.dispatch({
    kernel: sampleFinishKernel,
    spec: {
      constants: {
        WORKGROUP_SIZE: finishWorkgroupSize(ctx),
        CAP: cap,
        BUCKET,
        SEQUENTIAL_SORT: (options.sequentialSort ?? ctx.info.adapter.isFallbackAdapter) ? 1 : 0,
      },
    },
    uniforms: base,
    bindings: [logits, rowInfo, state, bucket, ids],
    workgroups: [rows],
  });
  if (options.stateOut) rec.copy(state, 0, options.stateOut, 0, rows * STATE * 4);
  for (const buffer of [rowInfo, hist, state, bucket]) ctx.pool.release(buffer);
}

/** Samples and reads back the ids (4 bytes per output row). `logits`: a GPU buffer [batch, vocab] f32,
 *  or the values to upload. Throws InvalidInputError when a row's range has no finite value. */
export async function sample(
  ctx: GpuContext,
  shape: SampleShape,
  settings: SampleSettings,
  logits: GPUBuffer | Float32Array,
  uniforms: ArrayLike<number>,
  options: SampleOptions = {},
): Promise<number[]> {
  const plan = planSample(shape, settings);
  checkUniforms(plan, uniforms);
  let input: GPUBuffer;
  let uploaded = false;
  if (logits instanceof Float32Array) {
    if (logits.length !== shape.batch * shape.vocab) {
      throw new InvalidInputError(`sample: ${logits.length} logits for a [${shape.batch}, ${shape.vocab}] shape`);
    }
    input = ctx.upload(logits, GPUBufferUsage.STORAGE, 'sample.logits');
    uploaded = true;
  } else {
    input = logits;
  }
  const bytes = plan.rows.length * 4;
  const ids = ctx.pool.acquire(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'sample.ids');
  try {
    const rec = ctx.recorder('sample');
    recordSample(ctx, rec, shape, settings, input, uniforms, ids, options);
    const staging = rec.copyToStaging(ids, 0, bytes);
    rec.submit();
    const result = Array.from(new Uint32Array(await ctx.mapStaging(staging, bytes)));
    if (result.includes(SAMPLE_NO_TOKEN)) throw new InvalidInputError('sample: no finite logit in the token range');
    return result;
  } finally {
    ctx.pool.release(ids);
    if (uploaded) input.destroy();
  }
}
