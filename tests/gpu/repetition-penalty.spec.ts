// Hugging Face's repetition penalty on the GPU against its CPU reference, and in greedy text generation.
import { expect, test } from './fixtures.ts';

for (const [rows, vocab, ids, penalty] of [[1, 1000, 40, 1.3], [2, 777, 300, 0.7], [1, 217206, 2000, 1.05], [2, 5, 9, 2]] as const) {
  test(`penalty ${penalty} on [${rows}, ${vocab}] with ${ids} ids`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate(async (a) => (await window.harness.repetitionPenalty()).kernel(...a), [rows, vocab, ids, penalty, vocab] as const);
    expect(r.changed).toBeGreaterThan(0);
    expect(r.mismatches).toBe(0);
  });
}

test('greedy generation with a penalty picks the penalised argmax', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.repetitionPenalty()).greedy(50));
  expect(r.expected).not.toBe(r.unpenalised);
  expect(r.generated).toBe(r.expected);
});
