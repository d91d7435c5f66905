// KV-cached attention (prefill + decode, grouped-query) on the browser's WebGPU against the float64 CPU
// reference: outputs of every call, the cache contents after the in-place writes, and the typed errors.
import type { AttentionCaseSpec } from './probes/attention.ts';
import { expect, test } from './fixtures.ts';

interface Case extends AttentionCaseSpec {
  title: string;
  /** Expected split counts of the calls, asserting that multi-slice and single-slice paths both run. */
  splits?: number[];
}

const cases: Case[] = [
  {
    title: 'GQA 12/2 × 128, batch 2: prefill T=5 at P=0, then decode at P=5 and P=6 (cache persists)',
    cache: { batch: 2, kvHeads: 2, maxLen: 48, headDim: 128 },
    qHeads: 12,
    seed: 1,
    calls: [
      { tokens: 5, position: 0 },
      { tokens: 1, position: 5 },
      { tokens: 1, position: 6 },
    ],
  },
  {
    title: 'MHA 20/20 × 64, batch 2: prefill T=13, prefill T=7 at P=13, decode at P=20',
    cache: { batch: 2, kvHeads: 20, maxLen: 40, headDim: 64 },
    qHeads: 20,
    seed: 2,
    calls: [
      { tokens: 13, position: 0 },
      { tokens: 7, position: 13 },
      { tokens: 1, position: 20 },
    ],
  },
  {
    title: 'MHA 20/20 × 72, batch 1: prefill T=9 then T=15 fills the cache exactly (P+T = maxLen)',
    cache: { batch: 1, kvHeads: 20, maxLen: 24, headDim: 72 },
    qHeads: 20,
    seed: 3,
    calls: [
      { tokens: 9, position: 0 },
      { tokens: 15, position: 9 },
    ],
  },
  {
    title: 'MHA 20/20 × 96, batch 2: prefill T=33 at P=0, decode at P=33',
    cache: { batch: 2, kvHeads: 20, maxLen: 70, headDim: 96 },
    qHeads: 20,
    seed: 4,
    calls: [
      { tokens: 33, position: 0 },
      { tokens: 1, position: 33 },
    ],
  },
  {
    title: 'one head, T=100 at P=0: several slices, later ones empty for early queries',
    cache: { batch: 1, kvHeads: 1, maxLen: 100, headDim: 8 },
    qHeads: 1,
    seed: 5,
    calls: [{ tokens: 100, position: 0 }],
    splits: [4],
  },
  {
    title: 'prefill T=3 at P=100 over a random cache: the causal edge falls inside a slice',
    cache: { batch: 2, kvHeads: 1, maxLen: 110, headDim: 16 },
    qHeads: 2,
    seed: 6,
    prefill: 100,
    calls: [
      { tokens: 3, position: 100 },
      { tokens: 1, position: 103 },
    ],
    splits: [4, 4],
  },
  {
    title: 'decode at realistic size: 12/2 × 128, 1,024 positions, cache exactly full',
    cache: { batch: 1, kvHeads: 2, maxLen: 1024, headDim: 128 },
    qHeads: 12,
    seed: 7,
    prefill: 1023,
    calls: [{ tokens: 1, position: 1023 }],
    splits: [32],
  },
  {
    title: 'very large logits (|q·k| ~ 1e3, scale 1): stable softmax, no NaN/Inf',
    cache: { batch: 2, kvHeads: 2, maxLen: 64, headDim: 64 },
    qHeads: 4,
    seed: 8,
    qScale: 100,
    scale: 1,
    calls: [
      { tokens: 20, position: 0 },
      { tokens: 1, position: 20 },
    ],
  },
  {
    title: 'smallest: headDim 4, 3 query heads on 1 kv head, decode at P=0',
    cache: { batch: 1, kvHeads: 1, maxLen: 1, headDim: 4 },
    qHeads: 3,
    seed: 9,
    calls: [{ tokens: 1, position: 0 }],
  },
];

// Random shapes from a fixed seed: head dims 64/72/96/128 (and a small one), GQA groups, odd T and P.
{
  let state = 12345;
  const rand = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  for (let i = 0; i < 4; i++) {
    const headDim = [64, 72, 96, 128, 20][rand(5)] as number;
    const kvHeads = 1 + rand(3);
    const qHeads = kvHeads * (1 + rand(4));
    const batch = 1 + rand(2);
    const first = 1 + rand(40);
    const maxLen = first + 2 + rand(30);
    const second = 1 + rand(maxLen - first - 1);
    cases.push({
      title: `random #${i}: batch ${batch}, ${qHeads}/${kvHeads} × ${headDim}, T=${first} then T=${second}, maxLen ${maxLen}`,
      cache: { batch, kvHeads, maxLen, headDim },
      qHeads,
      seed: 100 + i,
      calls: [
        { tokens: first, position: 0 },
        { tokens: second, position: first },
        { tokens: 1, position: first + second },
      ],
    });
  }
}

for (const c of cases) {
  test(`attention: ${c.title}`, async ({ harnessPage }) => {
    const result = await harnessPage.evaluate((spec) => window.harness.attention(spec), c as AttentionCaseSpec);
    expect(result.storage).toBe('f32');
    if (c.splits) expect(result.plans.map((p) => p.splits)).toEqual(c.splits);
    expect(result.allFinite).toBe(true);
    const sizes = c.calls.map((call) => c.cache.batch * call.tokens * c.qHeads * c.cache.headDim);
    expect(result.outputs.map((o) => o.count)).toEqual(sizes);
    expect(result.outputs.map((o) => o.mismatches)).toEqual(c.calls.map(() => 0));
    const cacheSize = c.cache.batch * c.cache.kvHeads * c.cache.maxLen * c.cache.headDim;
    expect(result.keys).toMatchObject({ count: cacheSize, mismatches: 0 });
    expect(result.values).toMatchObject({ count: cacheSize, mismatches: 0 });
  });
}

test('attention: f16 cache storage (adapters with shader-f16 only)', async ({ harnessPage }) => {
  const hasF16 = await harnessPage.evaluate(async () => (await navigator.gpu.requestAdapter())?.features.has('shader-f16') ?? false);
  test.skip(!hasF16, 'this adapter has no shader-f16; the f16 variant is verified only where it has');
  const spec: AttentionCaseSpec = {
    cache: { batch: 2, kvHeads: 2, maxLen: 40, headDim: 128 },
    qHeads: 12,
    seed: 21,
    storage: 'f16',
    calls: [
      { tokens: 5, position: 0 },
      { tokens: 1, position: 5 },
    ],
  };
  const result = await harnessPage.evaluate((s) => window.harness.attention(s), spec);
  expect(result.storage).toBe('f16');
  expect(result.outputs.map((o) => o.mismatches)).toEqual([0, 0]);
  expect(result.keys.mismatches).toBe(0);
  expect(result.values.mismatches).toBe(0);
});

test('attention: typed errors before any GPU work, f32 cache chosen without shader-f16', async ({ harnessPage }) => {
  const report = await harnessPage.evaluate(() => window.harness.attentionErrors());
  const invalidArgument = { name: 'InvalidArgumentError', code: 'invalid-argument' };
  expect(report.pastEnd).toMatchObject(invalidArgument);
  expect(report.pastEnd?.message).toContain('exceeds the cache length 8');
  expect(report.noTokens).toMatchObject(invalidArgument);
  expect(report.badGroup).toMatchObject(invalidArgument);
  expect(report.badHeadDim).toMatchObject(invalidArgument);
  expect(report.badHeadDim?.message).toContain('multiple of 4');
  expect(report.negativePosition).toMatchObject(invalidArgument);
  expect(report.wrongLength).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  expect(report.preferredStorage).toBe(report.shaderF16 ? 'f16' : 'f32');
  if (!report.shaderF16) expect(report.f16WithoutFeature).toMatchObject(invalidArgument);
  expect(report.untouched.mismatches).toBe(0);
});
