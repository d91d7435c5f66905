// Pure logic of KV-cached causal attention (no GPU): parameter validation, the split-K work plan used by
// the GPU kernels in attention.ts, and the CPU reference (float64 accumulation) that also appends to a CPU
// copy of the cache. Layouts, shared with the GPU side:
//   q, out:       [batch, T, qHeads·headDim]
//   new k, new v: [batch, T, kvHeads·headDim]
//   K/V caches:   [batch, kvHeads, maxLen, headDim]
// Query t of a call at position P attends to cache positions 0..P+t; query head h reads kv head
// floor(h / (qHeads / kvHeads)).
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';

export interface KvCacheShape {
  batch: number;
  kvHeads: number;
  maxLen: number;
  headDim: number;
}

export interface AttentionCall {
  qHeads: number;
  /** T: new tokens in this call (1 for decode). */
  tokens: number;
  /** P: cache position of the first new token. */
  position: number;
  /** Score scale; 1/sqrt(headDim) when omitted. */
  scale?: number;
}

export interface SplitPlan {
  /** batch · T · qHeads */
  rows: number;
  /** Slices of the cache positions per query row. */
  splits: number;
  /** Cache positions per slice (a multiple of 8, the positions the kernel takes per step). */
  chunk: number;
}

/** Invocations the split-K pass aims for: enough to fill the device, few enough that the combine is cheap. */
const TARGET_INVOCATIONS = 512;
/** Fewest cache positions per slice. */
const MIN_CHUNK = 32;

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`attention: ${name} = ${value} must be a positive integer`);
  }
}

export function validateCacheShape(shape: KvCacheShape): void {
  positiveInteger('batch', shape.batch);
  positiveInteger('kvHeads', shape.kvHeads);
  positiveInteger('maxLen', shape.maxLen);
  positiveInteger('headDim', shape.headDim);
  if (shape.headDim % 4 !== 0) {
    throw new InvalidArgumentError(`attention: headDim = ${shape.headDim} must be a multiple of 4`);
  }
}

/** Checks a call against the cache and returns the scale it uses. */
export function validateCall(shape: KvCacheShape, call: AttentionCall): number {
  validateCacheShape(shape);
  positiveInteger('qHeads', call.qHeads);
  positiveInteger('tokens (T)', call.tokens);
  if (!Number.isInteger(call.position) || call.position < 0) {
    throw new InvalidArgumentError(`attention: position = ${call.position} must be a non-negative integer`);
  }
  if (call.qHeads % shape.kvHeads !== 0) {
    throw new InvalidArgumentError(`attention: qHeads = ${call.qHeads} is not a multiple of kvHeads = ${shape.kvHeads}`);
  }
  if (call.position + call.tokens > shape.maxLen) {
    throw new InvalidArgumentError(
      `attention: position ${call.position} + ${call.tokens} tokens exceeds the cache length ${shape.maxLen}`,
    );
  }
  const scale = call.scale ?? 1 / Math.sqrt(shape.headDim);
  if (!Number.isFinite(scale)) throw new InvalidArgumentError(`attention: scale = ${scale} must be finite`);
  return scale;
}

/** How the split-K pass divides the causal range 0..P+T-1 of each query row. */
export function planSplits(shape: KvCacheShape, call: AttentionCall): SplitPlan {
  const rows = shape.batch * call.tokens * call.qHeads;
  const length = call.position + call.tokens;
  const wanted = Math.max(1, Math.min(Math.ceil(TARGET_INVOCATIONS / rows), Math.ceil(length / MIN_CHUNK)));
  const chunk = Math.ceil(Math.ceil(length / wanted) / 8) * 8;
  return { rows, splits: Math.ceil(length / chunk), chunk };
}

/** Element counts the call's tensors must have. */
export function callSizes(shape: KvCacheShape, call: AttentionCall): { query: number; newKv: number; cache: number } {
  const tokens = shape.batch * call.tokens;
  return {
    query: tokens * call.qHeads * shape.headDim,
    newKv: tokens * shape.kvHeads * shape.headDim,
    cache: shape.batch * shape.kvHeads * shape.maxLen * shape.headDim,
  };
}

/** A CPU copy of one layer's cache, [batch, kvHeads, maxLen, headDim] each. */
export interface CpuKvCache {
  shape: KvCacheShape;
  keys: Float32Array;
  values: Float32Array;
}

export function createCpuKvCache(shape: KvCacheShape): CpuKvCache {
  validateCacheShape(shape);
  const size = shape.batch * shape.kvHeads * shape.maxLen * shape.headDim;
  return { shape, keys: new Float32Array(size), values: new Float32Array(size) };
}

/** Appends k, v to `cache` at P..P+T-1 and returns the attention output [batch, T, qHeads·headDim]. */
export function attentionReference(
  cache: CpuKvCache,
  call: AttentionCall,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
): Float32Array {
  const { shape } = cache;
  const scale = validateCall(shape, call);
  const sizes = callSizes(shape, call);
  if (q.length !== sizes.query || k.length !== sizes.newKv || v.length !== sizes.newKv) {
    throw new InvalidInputError(
      `attention: q/k/v have ${q.length}/${k.length}/${v.length} values, expected ${sizes.query}/${sizes.newKv}/${sizes.newKv}`,
    );
  }
  const { batch, kvHeads, maxLen, headDim } = shape;
  const { qHeads, tokens, position } = call;
  const group = qHeads / kvHeads;
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < tokens; t++)
      for (let g = 0; g < kvHeads; g++) {
        const src = ((b * tokens + t) * kvHeads + g) * headDim;
        const dst = ((b * kvHeads + g) * maxLen + position + t) * headDim;
        cache.keys.set(k.subarray(src, src + headDim), dst);
        cache.values.set(v.subarray(src, src + headDim), dst);
      }
  const out = new Float32Array(sizes.query);
  const scores = new Float64Array(position + tokens);
  const acc = new Float64Array(headDim);
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < tokens; t++)
      for (let h = 0; h < qHeads; h++) {
        const qBase = ((b * tokens + t) * qHeads + h) * headDim;
        const cacheBase = (b * kvHeads + Math.floor(h / group)) * maxLen;
        const length = position + t + 1;
        let max = -Infinity;
        for (let p = 0; p < length; p++) {
          let dot = 0;
          const kBase = (cacheBase + p) * headDim;
          for (let d = 0; d < headDim; d++) dot += (q[qBase + d] as number) * (cache.keys[kBase + d] as number);
          scores[p] = dot * scale;
          if (dot * scale > max) max = dot * scale;
        }
        acc.fill(0);
        let sum = 0;
        for (let p = 0; p < length; p++) {
          const w = Math.exp((scores[p] as number) - max);
          sum += w;
          const vBase = (cacheBase + p) * headDim;
          for (let d = 0; d < headDim; d++) acc[d] = (acc[d] as number) + w * (cache.values[vBase + d] as number);
        }
        for (let d = 0; d < headDim; d++) out[qBase + d] = (acc[d] as number) / sum;
      }
  return out;
}

/** Multiply-adds ×2 of one batch row: q·k and p·v for every (query, causal position, head). */
export function attentionFlops(qHeads: number, headDim: number, position: number, tokens: number): number {
  let positions = 0;
  for (let t = 0; t < tokens; t++) positions += position + t + 1;
  return 4 * qHeads * headDim * positions;
}
