// KV-cached causal multi-head attention on the GPU (grouped-query capable), for prefill (T tokens at
// position P) and decode (T = 1). A call appends the new K/V to the layer's preallocated cache in place
// (shaders/attention_kv_write.wgsl), then runs split-K attention: attention_partial.wgsl computes
// online-softmax partials over slices of the cache positions, attention_combine.wgsl merges them.
// Everything is recorded into the caller's CommandRecorder. It does not project q/k/v, apply rotary
// embeddings or the output projection. Pure logic and the CPU reference live in attention-reference.ts.
import combineSource from '../../shaders/attention_combine.wgsl?raw';
import writeSource from '../../shaders/attention_kv_write.wgsl?raw';
import partialSource from '../../shaders/attention_partial.wgsl?raw';
import { GpuLimitError, InvalidArgumentError, InvalidInputError } from '../errors.ts';
import { foldWorkgroups, type CommandRecorder, type GpuContext } from '../gpu/context.ts';
import type { KernelDefinition, StorageType } from '../gpu/kernel.ts';
import { fromHalfBits, toHalfArray } from '../util/half.ts';
import {
  callSizes,
  planSplits,
  validateCacheShape,
  validateCall,
  type AttentionCall,
  type KvCacheShape,
} from './attention-reference.ts';

export const kvWriteKernel: KernelDefinition = { name: 'attention.kv_write', source: writeSource, entryPoint: 'main' };
export const attentionPartialKernel: KernelDefinition = {
  name: 'attention.partial',
  source: partialSource,
  entryPoint: 'main',
};
export const attentionCombineKernel: KernelDefinition = {
  name: 'attention.combine',
  source: combineSource,
  entryPoint: 'main',
};

const WRITE_WORKGROUP = 64;
const PARTIAL_WORKGROUP = 16;
const COMBINE_WORKGROUP = 64;

/** f16 where the device can compute with it, f32 otherwise. */
export function preferredCacheStorage(ctx: GpuContext): StorageType {
  return ctx.info.features.shaderF16 ? 'f16' : 'f32';
}

function checkBinding(ctx: GpuContext, what: string, bytes: number): void {
  const limit = Math.min(ctx.info.limits.maxStorageBufferBindingSize, ctx.info.limits.maxBufferSize);
  if (bytes > limit) throw new GpuLimitError(`maxStorageBufferBindingSize (${what})`, bytes, limit);
}

/** One layer's K and V caches, [batch, kvHeads, maxLen, headDim] each, in f32 or f16 storage. */
export class KvCache {
  readonly keys: GPUBuffer;
  readonly values: GPUBuffer;
  readonly bytesPerElement: number;

  constructor(
    private readonly ctx: GpuContext,
    readonly shape: KvCacheShape,
    readonly storage: StorageType = preferredCacheStorage(ctx),
  ) {
    validateCacheShape(shape);
    if (storage === 'f16' && !ctx.info.features.shaderF16) {
      throw new InvalidArgumentError('attention: f16 cache storage needs the shader-f16 feature');
    }
    this.bytesPerElement = storage === 'f16' ? 2 : 4;
    const bytes = this.elements * this.bytesPerElement;
    checkBinding(ctx, 'KV cache', bytes);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.keys = ctx.device.createBuffer({ size: bytes, usage, label: 'attention.key_cache' });
    this.values = ctx.device.createBuffer({ size: bytes, usage, label: 'attention.value_cache' });
  }

  get elements(): number {
    const { batch, kvHeads, maxLen, headDim } = this.shape;
    return batch * kvHeads * maxLen * headDim;
  }

  /** Overwrites the whole cache with f32 data [batch, kvHeads, maxLen, headDim] (tests, benchmarks). */
  fill(keys: Float32Array, values: Float32Array): void {
    if (keys.length !== this.elements || values.length !== this.elements) {
      throw new InvalidInputError(`attention: cache fill needs ${this.elements} values each`);
    }
    const write = (target: GPUBuffer, data: Float32Array): void => {
      const stored = this.storage === 'f16' ? toHalfArray(data) : data;
      this.ctx.device.queue.writeBuffer(target, 0, stored.buffer, stored.byteOffset, stored.byteLength);
    };
    write(this.keys, keys);
    write(this.values, values);
  }

  /** Reads both caches back as f32. */
  async read(): Promise<{ keys: Float32Array; values: Float32Array }> {
    const bytes = this.elements * this.bytesPerElement;
    const decode = (data: ArrayBuffer): Float32Array =>
      this.storage === 'f16' ? Float32Array.from(new Uint16Array(data), fromHalfBits) : new Float32Array(data);
    const [keys, values] = await Promise.all([this.ctx.read(this.keys, 0, bytes), this.ctx.read(this.values, 0, bytes)]);
    return { keys: decode(keys), values: decode(values) };
  }

  destroy(): void {
    this.keys.destroy();
    this.values.destroy();
  }
}

function checkBuffer(name: string, buffer: GPUBuffer, elements: number): void {
  if (buffer.size < elements * 4) {
    throw new InvalidInputError(`attention: ${name} holds ${buffer.size} bytes, needs ${elements * 4}`);
  }
}

/** Records: append k, v to `cache` at P..P+T-1, then out = softmax(q·Kᵀ·scale, causal)·V.
 *  q, out: [batch, T, qHeads·headDim]; k, v: [batch, T, kvHeads·headDim]; all f32. */
export function recordAttention(
  ctx: GpuContext,
  rec: CommandRecorder,
  cache: KvCache,
  call: AttentionCall,
  q: GPUBuffer,
  k: GPUBuffer,
  v: GPUBuffer,
  out: GPUBuffer,
): void {
  const { shape } = cache;
  const scale = validateCall(shape, call);
  const sizes = callSizes(shape, call);
  checkBuffer('q', q, sizes.query);
  checkBuffer('k', k, sizes.newKv);
  checkBuffer('v', v, sizes.newKv);
  checkBuffer('out', out, sizes.query);
  const plan = planSplits(shape, call);
  const headDim4 = shape.headDim / 4;
  const partialBytes = plan.rows * plan.splits * shape.headDim * 4;
  checkBinding(ctx, 'attention partials', partialBytes);
  const maxGroups = ctx.info.limits.maxComputeWorkgroupsPerDimension;
  const spec = { storage: cache.storage };

  const writeTotal = sizes.newKv / 4;
  rec.dispatch({
    kernel: kvWriteKernel,
    spec: { ...spec, constants: { WORKGROUP_SIZE: WRITE_WORKGROUP } },
    uniforms: {
      tokens: call.tokens,
      kvHeads: shape.kvHeads,
      headDim4,
      maxLen: shape.maxLen,
      position: call.position,
      total: writeTotal,
    },
    bindings: [k, v, cache.keys, cache.values],
    workgroups: foldWorkgroups(Math.ceil(writeTotal / WRITE_WORKGROUP), maxGroups),
  });

  const partialValues = ctx.pool.acquire(partialBytes, GPUBufferUsage.STORAGE, 'attention.partial_values');
  const partialStats = ctx.pool.acquire(plan.rows * plan.splits * 8, GPUBufferUsage.STORAGE, 'attention.partial_stats');
  const partialTotal = plan.rows * plan.splits;
  rec.dispatch({
    kernel: attentionPartialKernel,
    spec: { ...spec, constants: { WORKGROUP_SIZE: PARTIAL_WORKGROUP } },
    uniforms: {
      tokens: call.tokens,
      qHeads: call.qHeads,
      kvHeads: shape.kvHeads,
      headDim4,
      maxLen: shape.maxLen,
      position: call.position,
      splits: plan.splits,
      chunk: plan.chunk,
      total: partialTotal,
      scale,
    },
    bindings: [q, cache.keys, cache.values, partialValues, partialStats],
    workgroups: foldWorkgroups(Math.ceil(partialTotal / PARTIAL_WORKGROUP), maxGroups),
  });

  const combineTotal = plan.rows * headDim4;
  rec.dispatch({
    kernel: attentionCombineKernel,
    spec: { constants: { WORKGROUP_SIZE: COMBINE_WORKGROUP } },
    uniforms: { headDim4, splits: plan.splits, total: combineTotal },
    bindings: [partialValues, partialStats, out],
    workgroups: foldWorkgroups(Math.ceil(combineTotal / COMBINE_WORKGROUP), maxGroups),
  });
  ctx.pool.release(partialValues);
  ctx.pool.release(partialStats);
}

/** Uploads q, k, v, runs one attention call on `cache` and reads the output back. */
export async function attention(
  ctx: GpuContext,
  cache: KvCache,
  call: AttentionCall,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
): Promise<Float32Array> {
  validateCall(cache.shape, call);
  const sizes = callSizes(cache.shape, call);
  if (q.length !== sizes.query || k.length !== sizes.newKv || v.length !== sizes.newKv) {
    throw new InvalidInputError(
      `attention: q/k/v have ${q.length}/${k.length}/${v.length} values, expected ${sizes.query}/${sizes.newKv}/${sizes.newKv}`,
    );
  }
  const inputs = [q, k, v].map((data, i) => ctx.upload(data, GPUBufferUsage.STORAGE, `attention.${'qkv'[i]}`));
  const [qBuffer, kBuffer, vBuffer] = inputs as [GPUBuffer, GPUBuffer, GPUBuffer];
  const outBytes = sizes.query * 4;
  const out = ctx.pool.acquire(outBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'attention.out');
  const rec = ctx.recorder('attention');
  recordAttention(ctx, rec, cache, call, qBuffer, kBuffer, vBuffer, out);
  const staging = rec.copyToStaging(out, 0, outBytes);
  rec.submit();
  const result = new Float32Array(await ctx.mapStaging(staging, outBytes));
  ctx.pool.release(out);
  for (const buffer of inputs) buffer.destroy();
  return result;
}
