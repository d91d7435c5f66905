// Chat's test-time views (pure logic): the pixel shifts and the mean log-probabilities that combine the views
// (the CPU reference of shaders/log_prob_mean.wgsl).
import { expect, test } from '@playwright/test';
import { InvalidArgumentError, InvalidInputError } from '../../src/errors.ts';
import { logProbMeanReference } from '../../src/kernels/log-prob-mean-reference.ts';
import { checkViews, MAX_VIEWS, shiftedPixels, VIEW_SHIFTS } from '../../src/models/views.ts';
import { SeededRandom } from '../../src/util/random.ts';

// Two channels of a 3×3 picture: channel 0 holds 1..9 row by row, channel 1 the same plus 10.
const PICTURE = Float32Array.from({ length: 18 }, (_, i) => (i % 9) + 1 + (i >= 9 ? 10 : 0));

test('view 0 is the picture; the shifts are distinct one-pixel moves', () => {
  expect(Array.from(shiftedPixels(PICTURE, 3, VIEW_SHIFTS[0] as [number, number]))).toEqual(Array.from(PICTURE));
  expect(new Set(VIEW_SHIFTS.map((s) => s.join())).size).toBe(MAX_VIEWS);
  for (const [dy, dx] of VIEW_SHIFTS) expect(Math.max(Math.abs(dy), Math.abs(dx))).toBeLessThanOrEqual(1);
});

test('a shift moves the content and repeats the edge it uncovers, channel by channel', () => {
  // (0, 1): content one pixel right, the first column repeated.
  expect(Array.from(shiftedPixels(PICTURE, 3, [0, 1]))).toEqual([1, 1, 2, 4, 4, 5, 7, 7, 8, 11, 11, 12, 14, 14, 15, 17, 17, 18]);
  // (-1, 0): content one pixel up, the last row repeated.
  expect(Array.from(shiftedPixels(PICTURE, 3, [-1, 0])).slice(0, 9)).toEqual([4, 5, 6, 7, 8, 9, 7, 8, 9]);
  // (1, -1): down and left.
  expect(Array.from(shiftedPixels(PICTURE, 3, [1, -1])).slice(0, 9)).toEqual([2, 3, 3, 2, 3, 3, 5, 6, 6]);
  // A 1×1 picture is its own every view.
  expect(Array.from(shiftedPixels(Float32Array.of(5, 6, 7), 1, [1, 1]))).toEqual([5, 6, 7]);
});

test('pixel values that are not whole square channels and view counts outside [1, 9] are refused', () => {
  expect(() => shiftedPixels(new Float32Array(10), 3, [0, 1])).toThrow(InvalidInputError);
  expect(() => shiftedPixels(new Float32Array(9), 0, [0, 1])).toThrow(InvalidInputError);
  for (const views of [0, MAX_VIEWS + 1, 1.5, Number.NaN]) expect(() => checkViews(views)).toThrow(InvalidArgumentError);
  for (const views of [1, MAX_VIEWS]) expect(() => checkViews(views)).not.toThrow();
});

/** log_softmax of one row in float64. */
function logSoftmax(row: number[]): number[] {
  const top = Math.max(...row);
  const z = Math.log(row.reduce((s, x) => s + Math.exp(x - top), 0));
  return row.map((x) => x - top - z);
}

test('the mean of log-probabilities: one row is its log-softmax, rows are averaged, shifts of a row do not matter', () => {
  const random = new SeededRandom(5);
  for (const [rows, vocab] of [[1, 1], [1, 9], [3, 17], [9, 300]] as const) {
    const logits = Float32Array.from({ length: rows * vocab }, () => 10 * random.next() - 5);
    const each = Array.from({ length: rows }, (_, r) => logSoftmax(Array.from(logits.subarray(r * vocab, (r + 1) * vocab))));
    const expected = Array.from({ length: vocab }, (_, i) => each.reduce((s, row) => s + (row[i] as number), 0) / rows);
    const actual = logProbMeanReference({ rows, vocab }, logits);
    expected.forEach((x, i) => expect(actual[i]).toBeCloseTo(x, 5));
    // Adding a constant to a row changes nothing (log-softmax is shift-invariant), even a large one.
    const shifted = logits.map((x, i) => (i < vocab ? x + 1e4 : x));
    logProbMeanReference({ rows, vocab }, shifted).forEach((x, i) => expect(x).toBeCloseTo(actual[i] as number, 2));
  }
});

test('a token masked in any row is never drawable; a row with no finite value masks everything', () => {
  const masked = logProbMeanReference({ rows: 2, vocab: 3 }, Float32Array.of(0, -Infinity, 1, 2, 3, Number.NaN));
  expect(Number.isFinite(masked[0])).toBe(true);
  expect(Number.isNaN(masked[1])).toBe(true);
  expect(Number.isNaN(masked[2])).toBe(true);
  const dead = logProbMeanReference({ rows: 2, vocab: 2 }, Float32Array.of(1, 2, -Infinity, -Infinity));
  expect(Array.from(dead).every(Number.isNaN)).toBe(true);
  expect(() => logProbMeanReference({ rows: 2, vocab: 3 }, new Float32Array(5))).toThrow(InvalidInputError);
  expect(() => logProbMeanReference({ rows: 0, vocab: 3 }, new Float32Array(0))).toThrow(InvalidArgumentError);
});
