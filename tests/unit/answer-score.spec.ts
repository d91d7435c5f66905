// answerLogProb (pure logic): the summed log-softmax of answer ids over read-back logits rows.
import { expect, test } from '@playwright/test';
import { answerLogProb } from '../../src/decoders/answer-score.ts';
import { InvalidInputError } from '../../src/errors.ts';
import { SeededRandom } from '../../src/util/random.ts';

/** The textbook formula in float64, for comparison. */
function reference(rows: Float32Array, vocab: number, ids: number[]): number {
  return ids.reduce((total, id, i) => {
    const row = Array.from(rows.subarray(i * vocab, (i + 1) * vocab));
    const z = row.reduce((s, x) => s + Math.exp(x), 0);
    return total + Math.log(Math.exp(row[id] as number) / z);
  }, 0);
}

test('matches log-softmax over random rows and ids', () => {
  const random = new SeededRandom(3);
  for (const [answer, vocab] of [[1, 1], [1, 7], [5, 33], [12, 500]] as const) {
    const rows = Float32Array.from({ length: answer * vocab }, () => 8 * random.next() - 4);
    const ids = Array.from({ length: answer }, () => Math.floor(random.next() * vocab));
    expect(answerLogProb(rows, vocab, ids)).toBeCloseTo(reference(rows, vocab, ids), 9);
  }
});

test('a single certain token scores 0; large logits stay finite', () => {
  expect(answerLogProb(Float32Array.of(0), 1, [0])).toBe(0);
  const huge = Float32Array.of(1e30, 1e30, -1e30);
  expect(answerLogProb(huge, 3, [0])).toBeCloseTo(-Math.log(2), 9);
  const unlikely = answerLogProb(huge, 3, [2]);
  expect(Number.isFinite(unlikely) && unlikely < -1.9e30).toBe(true);
  const uniform = new Float32Array(4 * 10).fill(2.5);
  expect(answerLogProb(uniform, 10, [1, 2, 3, 9])).toBeCloseTo(4 * Math.log(0.1), 9);
});

test('rows that are not ids × vocab are an InvalidInputError', () => {
  expect(() => answerLogProb(new Float32Array(10), 5, [1])).toThrow(InvalidInputError);
  expect(() => answerLogProb(new Float32Array(10), 5, [1, 2, 3])).toThrow(/10 logits are not 3 rows of 5/);
});
