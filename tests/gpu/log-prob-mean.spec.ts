// The mean log-probabilities of several rows (chat's test-time views) against the CPU reference, over view counts,
// vocabularies from 1 token to Tar's, masked tokens, a row with nothing finite, and rows offset by a constant.
import { expect, test } from './fixtures.ts';

const TAR_VOCAB = 217_206;
const cases = [
  { rows: 1, vocab: 1, seed: 1 },
  { rows: 1, vocab: 880, seed: 2 },
  { rows: 2, vocab: 257, seed: 3 },
  { rows: 5, vocab: 880, seed: 4, masked: 40 },
  { rows: 9, vocab: 4099, seed: 5, offset: 1e4 },
  { rows: 3, vocab: 5, seed: 6, masked: 2 },
  { rows: 9, vocab: TAR_VOCAB, seed: 7, masked: 1000 },
];

for (const c of cases) {
  test(`log_prob_mean ${c.rows} rows × ${c.vocab}${c.masked ? `, ${c.masked} masked a row` : ''}${c.offset ? `, row 0 offset ${c.offset}` : ''}`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate((a) => window.harness.logProbMean(a), c);
    expect(r.finite.count + r.nans).toBe(c.vocab);
    expect(r.finite.mismatches).toBe(0);
    expect(r.nanDisagreements).toBe(0);
    expect(r.sameArgmax).toBe(true);
    if (c.masked) expect(r.nans).toBeGreaterThan(0);
  });
}

test('log_prob_mean: a row with no finite value leaves no token drawable', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.logProbMean({ rows: 3, vocab: 300, seed: 8, deadRow: true }));
  expect(r).toMatchObject({ nans: 300, nanDisagreements: 0 });
});

test('log_prob_mean refuses a wrong-sized input and an empty shape', async ({ harnessPage }) => {
  const errors = await harnessPage.evaluate(async () => ({
    size: await window.harness.describeErrorForTest(() => window.harness.logProbMeanWrongSize({ rows: 2, vocab: 4 }, 7)),
    empty: await window.harness.describeErrorForTest(() => window.harness.logProbMeanWrongSize({ rows: 0, vocab: 4 }, 0)),
  }));
  expect(errors.size).toMatchObject({ name: 'InvalidInputError' });
  expect(errors.empty).toMatchObject({ name: 'InvalidArgumentError' });
});
