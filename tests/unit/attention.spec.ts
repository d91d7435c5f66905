// Pure logic of KV-cached attention: validation, the split-K plan, the CPU reference on hand-computed
// cases, and the f16 specialisation of the cache kernels' WGSL.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { specialiseSource } from '../../src/gpu/kernel.ts';
import {
  attentionFlops,
  attentionReference,
  createCpuKvCache,
  planSplits,
  validateCall,
} from '../../src/kernels/attention-reference.ts';

const shape = { batch: 1, kvHeads: 1, maxLen: 4, headDim: 4 };

test('validation: typed errors for T=0, P+T > maxLen, qHeads % kvHeads, headDim % 4, bad scale', () => {
  const err = (f: () => unknown) => {
    try {
      f();
      return null;
    } catch (e) {
      return (e as Error).name;
    }
  };
  expect(err(() => validateCall(shape, { qHeads: 1, tokens: 0, position: 0 }))).toBe('InvalidArgumentError');
  expect(err(() => validateCall(shape, { qHeads: 1, tokens: 2, position: 3 }))).toBe('InvalidArgumentError');
  expect(err(() => validateCall({ ...shape, kvHeads: 2 }, { qHeads: 3, tokens: 1, position: 0 }))).toBe('InvalidArgumentError');
  expect(err(() => validateCall({ ...shape, headDim: 6 }, { qHeads: 1, tokens: 1, position: 0 }))).toBe('InvalidArgumentError');
  expect(err(() => validateCall(shape, { qHeads: 1, tokens: 1, position: 0, scale: NaN }))).toBe('InvalidArgumentError');
  expect(validateCall(shape, { qHeads: 1, tokens: 1, position: 3 })).toBe(0.5);
  expect(validateCall(shape, { qHeads: 1, tokens: 4, position: 0, scale: 2 })).toBe(2);
});

test('split plan covers every causal position with slices of a multiple of 8', () => {
  for (const [rows, length] of [[12, 1024], [12, 4096], [12, 1], [768, 320], [1, 100], [2, 7], [40, 33]] as const) {
    const plan = planSplits({ batch: 1, kvHeads: 1, maxLen: length, headDim: 4 }, { qHeads: rows, tokens: 1, position: length - 1 });
    expect(plan.chunk % 8).toBe(0);
    expect(plan.splits * plan.chunk).toBeGreaterThanOrEqual(length);
    expect((plan.splits - 1) * plan.chunk).toBeLessThan(length);
  }
  expect(planSplits({ batch: 1, kvHeads: 2, maxLen: 1024, headDim: 128 }, { qHeads: 12, tokens: 1, position: 1023 })).toEqual({
    rows: 12,
    splits: 32,
    chunk: 32,
  });
});

test('reference: hand-computed causal prefill and decode, with the cache appended in place', () => {
  const cache = createCpuKvCache({ batch: 1, kvHeads: 1, maxLen: 3, headDim: 4 });
  // Two tokens at P=0; scale 1. Keys e0, e1; values [1,0,0,0], [0,2,0,0]; queries e0·ln3 and e1.
  const q = new Float32Array([Math.log(3), 0, 0, 0, 0, 1, 0, 0]);
  const k = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]);
  const v = new Float32Array([1, 0, 0, 0, 0, 2, 0, 0]);
  const out = attentionReference(cache, { qHeads: 1, tokens: 2, position: 0, scale: 1 }, q, k, v);
  // Token 0 sees only position 0; token 1 sees scores [0, 1]: weights [1, e] / (1 + e).
  const w = Math.E / (1 + Math.E);
  expect(Array.from(out.subarray(0, 4))).toEqual([1, 0, 0, 0]);
  expect(out[4]).toBeCloseTo(1 - w, 6);
  expect(out[5]).toBeCloseTo(2 * w, 6);
  expect(Array.from(cache.keys.subarray(0, 8))).toEqual(Array.from(k));
  // Decode at P=2: the query e0·ln3 scores [ln3, 0, 0] → weights [3, 1, 1] / 5.
  const decoded = attentionReference(
    cache,
    { qHeads: 1, tokens: 1, position: 2, scale: 1 },
    new Float32Array([Math.log(3), 0, 0, 0]),
    new Float32Array([0, 0, 1, 0]),
    new Float32Array([0, 0, 0, 5]),
  );
  expect(Array.from(decoded).map((x) => Number(x.toFixed(6)))).toEqual([0.6, 0.4, 0, 1]);
  expect(Array.from(cache.values.subarray(8, 12))).toEqual([0, 0, 0, 5]);
});

test('reference: grouped-query heads read kv head floor(h / group); huge logits stay finite', () => {
  const cache = createCpuKvCache({ batch: 1, kvHeads: 2, maxLen: 1, headDim: 4 });
  const q = new Float32Array(4 * 4).fill(1e3);
  const k = new Float32Array([1, 1, 1, 1, 2, 2, 2, 2]);
  const v = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const out = attentionReference(cache, { qHeads: 4, tokens: 1, position: 0 }, q, k, v);
  expect(Array.from(out)).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8]);
});

test('flop count sums the causal lengths', () => {
  expect(attentionFlops(12, 128, 1023, 1)).toBe(4 * 12 * 128 * 1024);
  expect(attentionFlops(1, 1, 2, 3)).toBe(4 * (3 + 4 + 5));
});

test('the cache kernels specialise to f16 storage', () => {
  for (const file of ['attention_kv_write.wgsl', 'attention_partial.wgsl']) {
    const source = readFileSync(new URL(`../../shaders/${file}`, import.meta.url), 'utf8');
    const f16 = specialiseSource({ name: file, source, entryPoint: 'main' }, { storage: 'f16' });
    expect(f16.startsWith('enable f16;')).toBe(true);
    expect(f16).toContain('alias StoreT = f16;');
    expect(f16).toContain('array<vec4<StoreT>>');
  }
});
