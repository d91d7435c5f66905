// The CPU sampling reference on hand-made cases: HF top-k/top-p semantics, tie order, range, guidance,
// greedy, the draw's boundaries, and the typed errors for bad settings.
import { expect, test } from '@playwright/test';
import { conditionalThreshold, planSample, sampleReference, sampleRowReference, type SampleSettings } from '../../src/kernels/sample-reference.ts';

const plain: SampleSettings = { temperature: 1, topK: 0, topP: 1 };

function draw(logits: number[], settings: SampleSettings, u: number): number {
  return sampleReference({ batch: 1, vocab: logits.length }, settings, new Float32Array(logits), [u])[0] as number;
}

test('draw walks tokens by descending probability, ties by ascending id', () => {
  // probs ∝ e^x: ids 1 and 3 tie at the top (0.4223 each), then id 0 (0.1554), id 2 (0).
  const logits = [1, 2, -1e30, 2];
  expect(draw(logits, plain, 0)).toBe(1);
  expect(draw(logits, plain, 0.42)).toBe(1);
  expect(draw(logits, plain, 0.43)).toBe(3);
  expect(draw(logits, plain, 0.84)).toBe(3);
  expect(draw(logits, plain, 0.85)).toBe(0);
  expect(draw(logits, plain, 0.999999)).toBe(0);
});

test('top-k keeps every token tied at the k-th value', () => {
  const logits = [0, 3, 1, 1, 1, 2];
  const row = sampleRowReference(planSample({ batch: 1, vocab: 6 }, { ...plain, topK: 3 }), new Float32Array(logits), 6, { cond: 0, uncond: 0 }, 0.999);
  // kept: 1 (3), 5 (2), then the three ties at 1 (ids 2, 3, 4); id 0 is dropped.
  expect(row.drawCumulative).toHaveLength(5);
  expect(row.id).toBe(4);
  expect(draw(logits, { ...plain, topK: 1 }, 0.99)).toBe(1);
  // k ≥ the range size disables top-k.
  expect(planSample({ batch: 1, vocab: 6 }, { ...plain, topK: 6 }).topK).toBe(0);
});

test('top-p drops tokens whose ascending cumulative probability ≤ 1 − p, keeping at least one', () => {
  // probs 0.5, 0.25, 0.125, 0.125 (ids 0..3, logits in ln 2 steps)
  const logits = [Math.log(8), Math.log(4), Math.log(2), Math.log(2)];
  // 1 − p = 0.3: ascending sums 0.125 (id 3), 0.25 (id 2) are ≤ 0.3 → dropped; 0.5 (id 1) kept.
  const plan = planSample({ batch: 1, vocab: 4 }, { ...plain, topP: 0.7 });
  const row = sampleRowReference(plan, new Float32Array(logits), 4, { cond: 0, uncond: 0 }, 0.99);
  expect(row.drawCumulative).toHaveLength(2);
  expect(row.id).toBe(1);
  expect(draw(logits, { ...plain, topP: 0.7 }, 0.66)).toBe(0);
  expect(draw(logits, { ...plain, topP: 0.7 }, 0.67)).toBe(1);
  // a tiny top-p keeps only the most probable token
  expect(draw(logits, { ...plain, topP: 0.01 }, 0.99)).toBe(0);
  // ties: the ascending order is the reverse of the draw order, so id 3 is dropped before id 2
  expect(draw(logits, { ...plain, topP: 0.8 }, 0.99)).toBe(2);
});

test('range restriction, temperature, greedy and guidance', () => {
  const logits = [9, 1, 2, 3, 9];
  expect(draw(logits, { ...plain, temperature: 0, range: { lo: 1, hi: 4 } }, 0.5)).toBe(3);
  expect(draw(logits, { ...plain, temperature: 0 }, 0.5)).toBe(0);
  // a very low temperature concentrates the draw on the maximum
  expect(draw([0, 1, 0.5], { ...plain, temperature: 0.01 }, 0.999)).toBe(1);
  // guidance: rows [cond, uncond]; l = u + 4 (c − u) favours id 1 although uncond prefers id 0
  const cfg = new Float32Array([1, 1.5, 0, 2, 1, 0]);
  const settings: SampleSettings = { ...plain, temperature: 0, guidance: { scale: 4 } };
  expect(sampleReference({ batch: 2, vocab: 3 }, settings, cfg, [0.5])).toEqual([1]);
  const pairs: SampleSettings = { ...settings, guidance: { scale: 4, pairs: [[1, 0]] } };
  expect(sampleReference({ batch: 2, vocab: 3 }, pairs, cfg, [0.5])).toEqual([0]);
});

test('guidance with a conditional min-p: only tokens the conditional row finds plausible are drawn', () => {
  // cond [4, 3, 0], uncond [4, 0, -3]: guidance 3 gives [4, 9, 6], so id 1 wins, then id 2 ...
  const rows = new Float32Array([4, 3, 0, 4, 0, -3]);
  const shape = { batch: 2, vocab: 3 };
  const greedy: SampleSettings = { ...plain, temperature: 0, guidance: { scale: 3 } };
  expect(sampleReference(shape, greedy, rows, [0.5])).toEqual([1]);
  // ... but with min-p e^-2 id 2 (conditional 0, 4 below the best) is dropped before guidance can favour it
  const guided = { ...plain, guidance: { scale: 3, condMinP: Math.exp(-2) } };
  for (const u of [0.001, 0.5, 0.97, 0.999]) expect(sampleReference(shape, guided, rows, [u])).not.toEqual([2]);
  expect(sampleReference(shape, { ...plain, guidance: { scale: 3 } }, rows, [0.97])).toEqual([2]);
  // min-p 1 keeps only the conditional maximum (ties all kept); the threshold is f32(max + f32(ln p))
  expect(sampleReference(shape, { ...greedy, guidance: { scale: 3, condMinP: 1 } }, rows, [0.5])).toEqual([0]);
  const plan = planSample(shape, { ...plain, temperature: 0.5, guidance: { scale: 3, condMinP: 0.1 } });
  expect(plan.condFloor).toBe(Math.fround(Math.log(0.1)));
  expect(conditionalThreshold(plan, rows, 3, plan.rows[0]!)).toBe(Math.fround(8 + plan.condFloor));
  // non-finite conditional values neither set the maximum nor pass
  const odd = new Float32Array([Infinity, 1, NaN, 0, 5, 0]);
  expect(conditionalThreshold(plan, odd, 3, plan.rows[0]!)).toBe(Math.fround(2 + plan.condFloor));
  expect(sampleReference(shape, { ...greedy, guidance: { scale: 3, condMinP: 0.5 } }, odd, [0.5])).toEqual([1]);
});

test('typed errors for bad settings and shapes', () => {
  const shape = { batch: 1, vocab: 4 };
  const cases: [SampleSettings, string][] = [
    [{ ...plain, topK: -1 }, 'InvalidArgumentError'],
    [{ ...plain, topP: 0 }, 'InvalidArgumentError'],
    [{ ...plain, topP: 1.5 }, 'InvalidArgumentError'],
    [{ ...plain, temperature: -1 }, 'InvalidArgumentError'],
    [{ ...plain, range: { lo: 2, hi: 2 } }, 'InvalidArgumentError'],
    [{ ...plain, range: { lo: 0, hi: 5 } }, 'InvalidArgumentError'],
    [{ ...plain, guidance: { scale: 2 } }, 'InvalidInputError'],
    [{ ...plain, guidance: { scale: 2, pairs: [[0, 0]], condMinP: 0 } }, 'InvalidArgumentError'],
    [{ ...plain, guidance: { scale: 2, pairs: [[0, 0]], condMinP: 1.5 } }, 'InvalidArgumentError'],
  ];
  for (const [settings, name] of cases) {
    expect(() => planSample(shape, settings), JSON.stringify(settings)).toThrow(expect.objectContaining({ name }));
  }
  expect(() => sampleReference(shape, plain, new Float32Array(3), [0.5])).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  expect(() => sampleReference(shape, plain, new Float32Array(4), [1])).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
  expect(() => sampleReference(shape, plain, new Float32Array([NaN, -Infinity, NaN, NaN]), [0.5])).toThrow(
    expect.objectContaining({ name: 'InvalidInputError' }),
  );
});
