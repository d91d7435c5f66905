// GPU sampling against the CPU reference: the returned id must be the reference's exactly, on random
// logits and on the edge cases (ties, −1e30 logits, range restriction, top-k 1 and k beyond the range,
// top-p keeping one token, V not a multiple of the workgroup, B = 1 and 2, guidance, greedy), on both
// the candidate path and the general path; plus the record path and the typed errors.
import type { SampleCase } from './probes/sample.ts';
import { expect, test } from './fixtures.ts';

const t1 = { temperature: 1, topK: 0, topP: 1 };
const cases: [string, SampleCase][] = [
  ['B=1 V=5000 k=50 p=0.9 (candidate path)', { shape: { batch: 1, vocab: 5000 }, settings: { ...t1, topK: 50, topP: 0.9 }, kind: 'normal', seed: 1, draws: 6 }],
  ['B=2 V=4099 k=300 p=0.95 T=0.7', { shape: { batch: 2, vocab: 4099 }, settings: { temperature: 0.7, topK: 300, topP: 0.95 }, kind: 'normal', seed: 2, draws: 4 }],
  ['B=1 V=1237 k=1 (top-k 1)', { shape: { batch: 1, vocab: 1237 }, settings: { ...t1, topK: 1 }, kind: 'normal', seed: 3, draws: 2 }],
  ['B=1 V=3001 k=20 p=0.05 (top-p keeps one)', { shape: { batch: 1, vocab: 3001 }, settings: { ...t1, topK: 20, topP: 0.05 }, kind: 'normal', seed: 4, draws: 2 }],
  ['all-equal logits, k=5 (every token ties: general path)', { shape: { batch: 1, vocab: 2500 }, settings: { ...t1, topK: 5, topP: 0.5 }, kind: 'equal', seed: 5, draws: 4 }],
  ['all-equal logits, small V, k=3 (ties on the candidate path)', { shape: { batch: 1, vocab: 300 }, settings: { ...t1, topK: 3 }, kind: 'equal', seed: 6, draws: 4 }],
  ['few distinct levels, k=40 p=0.8 (ties at the threshold)', { shape: { batch: 2, vocab: 700 }, settings: { ...t1, topK: 40, topP: 0.8 }, kind: 'fewLevels', seed: 7, draws: 4 }],
  ['half the logits −1e30, k=100', { shape: { batch: 1, vocab: 999 }, settings: { ...t1, topK: 100, topP: 0.95 }, kind: 'veryNegative', seed: 8, draws: 4 }],
  ['range [1000, 1777), k=200 p=0.9', { shape: { batch: 1, vocab: 4000 }, settings: { ...t1, topK: 200, topP: 0.9, range: { lo: 1000, hi: 1777 } }, kind: 'normal', seed: 9, draws: 4 }],
  ['range of 50 tokens, k=1200 (k beyond the range)', { shape: { batch: 1, vocab: 3000 }, settings: { ...t1, topK: 1200, topP: 0.9, range: { lo: 2900, hi: 2950 } }, kind: 'normal', seed: 10, draws: 4 }],
  ['guidance 4, halves, k=100 p=0.95', { shape: { batch: 2, vocab: 3333 }, settings: { ...t1, topK: 100, topP: 0.95, guidance: { scale: 4 } }, kind: 'normal', seed: 11, draws: 4 }],
  ['guidance 4, explicit pairs, no top-k (general path)', { shape: { batch: 4, vocab: 1500 }, settings: { ...t1, guidance: { scale: 4, pairs: [[2, 0], [1, 3]] } }, kind: 'normal', seed: 12, draws: 3 }],
  ['guidance 2 with conditional min-p 0.05, k=1200 p=0.95 T=0.7, range (fewer kept tokens than k)', { shape: { batch: 2, vocab: 6000 }, settings: { temperature: 0.7, topK: 1200, topP: 0.95, range: { lo: 500, hi: 5500 }, guidance: { scale: 2, pairs: [[0, 1]], condMinP: 0.05 } }, kind: 'normal', seed: 23, draws: 5 }],
  ['conditional min-p over a large range, k=1200 (exhaustive gather: candidates found without the general path, fewer than k)', { shape: { batch: 2, vocab: 70000 }, settings: { temperature: 0.7, topK: 1200, topP: 0.95, guidance: { scale: 2, pairs: [[0, 1]], condMinP: 0.1 } }, kind: 'normal', seed: 28, draws: 4 }],
  ['guidance 1.5 with conditional min-p 0.2, no top-k (general path), peaked', { shape: { batch: 2, vocab: 3000 }, settings: { ...t1, guidance: { scale: 1.5, condMinP: 0.2 } }, kind: 'peaked', seed: 24, draws: 4 }],
  ['conditional min-p with −1e30 logits and ties, k=40', { shape: { batch: 2, vocab: 999 }, settings: { ...t1, topK: 40, topP: 0.9, guidance: { scale: 3, condMinP: 0.01 } }, kind: 'veryNegative', seed: 25, draws: 3 }],
  ['conditional min-p 1 keeps the conditional maximum (and ties), few levels', { shape: { batch: 2, vocab: 700 }, settings: { ...t1, topK: 40, guidance: { scale: 4, condMinP: 1 } }, kind: 'fewLevels', seed: 26, draws: 3 }],
  ['greedy with guidance and conditional min-p', { shape: { batch: 2, vocab: 2000 }, settings: { temperature: 0, topK: 0, topP: 1, guidance: { scale: 5, condMinP: 0.3 } }, kind: 'normal', seed: 27 }],
  ['no top-k, p=0.9 (general path)', { shape: { batch: 1, vocab: 2049 }, settings: { ...t1, topP: 0.9 }, kind: 'normal', seed: 13, draws: 3 }],
  ['no top-k, k beyond CAP, p=0.95, peaked (general path)', { shape: { batch: 1, vocab: 5000 }, settings: { ...t1, topK: 3000, topP: 0.95 }, kind: 'peaked', seed: 14, draws: 3 }],
  ['GPU-default variants (workgroup-memory histogram, bitonic sort), B=2 k=64 p=0.9', { shape: { batch: 2, vocab: 9000 }, settings: { ...t1, topK: 64, topP: 0.9 }, kind: 'normal', seed: 17, draws: 3, options: { localHistogram: true, sequentialSort: false, itemsPerInvocation: 16 } }],
  ['bitonic sort with ties at the threshold, k=40', { shape: { batch: 2, vocab: 700 }, settings: { ...t1, topK: 40, topP: 0.8 }, kind: 'fewLevels', seed: 22, draws: 3, options: { sequentialSort: false } }],
  ['sampled first histogram (stride 8), B=1 V=80000 k=100 (candidate path)', { shape: { batch: 1, vocab: 80000 }, settings: { ...t1, topK: 100, topP: 0.9 }, kind: 'normal', seed: 19, draws: 3 }],
  ['sampled histogram, every 8th token high, B=2 V=60000 k=50', { shape: { batch: 2, vocab: 60000 }, settings: { ...t1, topK: 50, topP: 0.95 }, kind: 'periodic', seed: 20, draws: 2 }],
  ['bucket overflow → general path (40,000 tokens share the k-th level-0 bin)', { shape: { batch: 1, vocab: 40000 }, settings: { ...t1, topK: 30, topP: 0.9 }, kind: 'crowded', seed: 18, draws: 2 }],
  ['greedy, B=2, ties → lowest id', { shape: { batch: 2, vocab: 3001 }, settings: { temperature: 0, topK: 50, topP: 0.9 }, kind: 'fewLevels', seed: 15 }],
  ['greedy with guidance and range', { shape: { batch: 2, vocab: 2000 }, settings: { temperature: 0, topK: 0, topP: 1, range: { lo: 100, hi: 900 }, guidance: { scale: 3 } }, kind: 'normal', seed: 16 }],
];

for (const [name, c] of cases) {
  test(`sample: ${name}`, async ({ harnessPage }) => {
    const report = await harnessPage.evaluate((x) => window.harness.sample(x), c);
    expect(report.gpu.length).toBe(report.reference.length);
    expect(report.gpu).toEqual(report.reference);
    expect(report.mismatches).toBe(0);
    if (name.includes('candidate path') || name.includes('every 8th')) {
      for (const n of report.candidates) expect(n).toBeGreaterThanOrEqual(c.settings.topK);
      for (const n of report.candidates) expect(n).toBeLessThanOrEqual(2048);
    }
    if (name.includes('exhaustive gather')) {
      for (const n of report.candidates) expect(n).toBeGreaterThan(0);
      for (const n of report.candidates) expect(n).toBeLessThan(c.settings.topK);
    }
    if (name.includes('overflow')) {
      expect(report.bucketed[0]).toBeGreaterThan(16384);
      expect(report.candidates[0]).toBe(0xffffffff);
    }
  });
}

test('sample: random draws spread over many ids', async ({ harnessPage }) => {
  const c: SampleCase = { shape: { batch: 1, vocab: 800 }, settings: { temperature: 1.5, topK: 100, topP: 0.99 }, kind: 'normal', seed: 21, draws: 12 };
  const report = await harnessPage.evaluate((x) => window.harness.sample(x), c);
  expect(report.mismatches).toBe(0);
  expect(report.distinct).toBeGreaterThan(6);
});

test('sample: record path leaves ids on the GPU; a row without finite logits gets NO_TOKEN', async ({ harnessPage }) => {
  const result = await harnessPage.evaluate(() => window.harness.sampleRecord());
  expect(result.ids).toEqual([1, result.noToken]);
});

test('sample: typed errors for bad settings and shapes', async ({ harnessPage }) => {
  const errors = await harnessPage.evaluate(async () => {
    const h = window.harness;
    const s = { temperature: 1, topK: 10, topP: 0.9 };
    const shape = { batch: 1, vocab: 100 };
    return {
      topK: await h.describeErrorForTest(() => h.sampleRaw(shape, { ...s, topK: -1 }, 100, [0.5])),
      topP: await h.describeErrorForTest(() => h.sampleRaw(shape, { ...s, topP: 0 }, 100, [0.5])),
      topPHigh: await h.describeErrorForTest(() => h.sampleRaw(shape, { ...s, topP: 1.01 }, 100, [0.5])),
      temperature: await h.describeErrorForTest(() => h.sampleRaw(shape, { ...s, temperature: -0.5 }, 100, [0.5])),
      range: await h.describeErrorForTest(() => h.sampleRaw(shape, { ...s, range: { lo: 50, hi: 40 } }, 100, [0.5])),
      rangeBeyond: await h.describeErrorForTest(() => h.sampleRaw(shape, { ...s, range: { lo: 0, hi: 101 } }, 100, [0.5])),
      length: await h.describeErrorForTest(() => h.sampleRaw(shape, s, 99, [0.5])),
      uniforms: await h.describeErrorForTest(() => h.sampleRaw(shape, s, 100, [0.5, 0.5])),
      oddGuidance: await h.describeErrorForTest(() => h.sampleRaw(shape, { ...s, guidance: { scale: 4 } }, 100, [0.5])),
      noFinite: await h.describeErrorForTest(() => h.sampleRaw({ batch: 1, vocab: 4 }, { ...s, topK: 0 }, 4, [0.5])),
    };
  });
  for (const key of ['topK', 'topP', 'topPHigh', 'temperature', 'range', 'rangeBeyond'] as const) {
    expect(errors[key], key).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
  }
  for (const key of ['length', 'uniforms', 'oddGuidance'] as const) {
    expect(errors[key], key).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  }
  // all-zero logits are finite: no error
  expect(errors.noFinite).toBeNull();
});

test('sample: realistic size V=217206 k=1200 p=0.95 matches the reference', async ({ harnessPage }) => {
  const result = await harnessPage.evaluate(() => window.harness.sampleRealistic(3));
  expect(result.mismatches).toBe(0);
  console.log(`sample V=217206 k=1200 p=0.95: median ${result.medianMs.toFixed(1)} ms (GPU path incl. 4-byte read-back)`);
});
