// Probe: KV-cached attention on the GPU against the float64 CPU reference, over a sequence of calls on
// one cache (prefill, then decode steps), plus the cache contents after the writes and the typed errors.
import {
  attentionReference,
  createCpuKvCache,
  planSplits,
  type AttentionCall,
  type KvCacheShape,
  type SplitPlan,
} from '../../../src/kernels/attention-reference.ts';
import { attention, KvCache, preferredCacheStorage } from '../../../src/kernels/attention.ts';
import type { StorageType } from '../../../src/gpu/kernel.ts';
import { fromHalfBits, toHalfBits } from '../../../src/util/half.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { compareArrays, type Closeness } from '../compare.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';
import { gpu } from './context.ts';

export interface AttentionCaseSpec {
  cache: KvCacheShape;
  qHeads: number;
  seed: number;
  /** Cache positions 0..prefill-1 hold random K/V before the first call. */
  prefill?: number;
  /** Multiplies q (large values give very large logits). */
  qScale?: number;
  scale?: number;
  calls: { tokens: number; position: number }[];
  atol?: number;
  rtol?: number;
  /** Cache storage (default f32). For f16 the probe rounds K/V to binary16 first, so the reference sees
   *  the values the cache holds. */
  storage?: StorageType;
}

export interface AttentionCaseResult {
  storage: string;
  plans: SplitPlan[];
  outputs: Closeness[];
  allFinite: boolean;
  keys: Closeness;
  values: Closeness;
}

export async function attentionProbe(spec: AttentionCaseSpec): Promise<AttentionCaseResult> {
  const ctx = await gpu();
  const random = new SeededRandom(spec.seed);
  const cache = new KvCache(ctx, spec.cache, spec.storage ?? 'f32');
  const cpu = createCpuKvCache(spec.cache);
  const stored = (x: number): number => (cache.storage === 'f16' ? fromHalfBits(toHalfBits(x)) : x);
  const kvNormals = (length: number): Float32Array => random.normals(length).map(stored);
  const { batch, kvHeads, maxLen, headDim } = spec.cache;
  if (spec.prefill) {
    for (let row = 0; row < batch * kvHeads; row++)
      for (let i = 0; i < spec.prefill * headDim; i++) {
        cpu.keys[row * maxLen * headDim + i] = stored(random.normal());
        cpu.values[row * maxLen * headDim + i] = stored(random.normal());
      }
    cache.fill(cpu.keys, cpu.values);
  }
  const atol = spec.atol ?? 1e-4;
  const rtol = spec.rtol ?? 1e-4;
  const outputs: Closeness[] = [];
  const plans: SplitPlan[] = [];
  let allFinite = true;
  try {
    for (const step of spec.calls) {
      const call: AttentionCall = { qHeads: spec.qHeads, ...step, ...(spec.scale === undefined ? {} : { scale: spec.scale }) };
      const q = random.normals(batch * step.tokens * spec.qHeads * headDim, spec.qScale ?? 1);
      const k = kvNormals(batch * step.tokens * kvHeads * headDim);
      const v = kvNormals(batch * step.tokens * kvHeads * headDim);
      const actual = await attention(ctx, cache, call, q, k, v);
      const expected = attentionReference(cpu, call, q, k, v);
      allFinite &&= actual.every(Number.isFinite);
      outputs.push(compareArrays(actual, expected, atol, rtol));
      plans.push(planSplits(spec.cache, call));
    }
    const contents = await cache.read();
    return {
      storage: cache.storage,
      plans,
      outputs,
      allFinite,
      keys: compareArrays(contents.keys, cpu.keys, 0, 0),
      values: compareArrays(contents.values, cpu.values, 0, 0),
    };
  } finally {
    cache.destroy();
  }
}

export interface AttentionErrorsReport {
  preferredStorage: string;
  shaderF16: boolean;
  pastEnd: ThrownError | null;
  noTokens: ThrownError | null;
  badGroup: ThrownError | null;
  badHeadDim: ThrownError | null;
  negativePosition: ThrownError | null;
  wrongLength: ThrownError | null;
  f16WithoutFeature: ThrownError | null;
  /** The cache after the refused calls, compared with all zeros (nothing may have been written). */
  untouched: Closeness;
}

export async function attentionErrorsProbe(): Promise<AttentionErrorsReport> {
  const ctx = await gpu();
  const shape = { batch: 1, kvHeads: 2, maxLen: 8, headDim: 8 };
  const cache = new KvCache(ctx, shape, 'f32');
  const q = new Float32Array(4 * 8);
  const kv = new Float32Array(2 * 8);
  const run = (call: AttentionCall, qData = q, kvData = kv) => () => attention(ctx, cache, call, qData, kvData, kvData);
  const report: AttentionErrorsReport = {
    preferredStorage: preferredCacheStorage(ctx),
    shaderF16: ctx.info.features.shaderF16,
    pastEnd: await describeErrorForTest(run({ qHeads: 4, tokens: 1, position: 8 })),
    noTokens: await describeErrorForTest(run({ qHeads: 4, tokens: 0, position: 0 })),
    badGroup: await describeErrorForTest(run({ qHeads: 3, tokens: 1, position: 0 }, new Float32Array(3 * 8))),
    badHeadDim: await describeErrorForTest(() => new KvCache(ctx, { ...shape, headDim: 70 }, 'f32')),
    negativePosition: await describeErrorForTest(run({ qHeads: 4, tokens: 1, position: -1 })),
    wrongLength: await describeErrorForTest(run({ qHeads: 4, tokens: 1, position: 0 }, new Float32Array(31))),
    f16WithoutFeature: ctx.info.features.shaderF16
      ? null
      : await describeErrorForTest(() => new KvCache(ctx, shape, 'f16')),
    untouched: compareArrays((await cache.read()).keys, new Float32Array(cache.elements), 0, 0),
  };
  cache.destroy();
  return report;
}

/** What tests/gpu/harness.ts registers. */
export const attentionProbes = { attention: attentionProbe, attentionErrors: attentionErrorsProbe };
