// The engine's preview pacing (pure logic): previews every N rows, never two at once, and within their share of
// the drawing time.
import { expect, test } from '@playwright/test';
import { InvalidArgumentError } from '../../src/errors.ts';
import { PreviewPacer } from '../../src/pipeline/preview-pacer.ts';

/** Simulates a drawing of `rows` rows at `rowMs` each whose previews take `previewMs` (run at once, in series with
 *  the drawing, as on one GPU queue); → the rows that got a preview. */
function previewRows(everyRows: number, rows: number, rowMs: number, previewMs: number, share?: number): number[] {
  const pacer = new PreviewPacer(everyRows, share);
  const previewed: number[] = [];
  let now = 0;
  for (let row = 1; row < rows; row++) {
    now += rowMs;
    if (pacer.take(row, now)) {
      previewed.push(row);
      pacer.finished(now, now + previewMs);
      now += previewMs;
    }
  }
  return previewed;
}

test('on a fast adapter every due row gets its preview', () => {
  expect(previewRows(1, 16, 100, 5)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  expect(previewRows(4, 16, 100, 5)).toEqual([4, 8, 12]);
});

test('on a slow adapter previews are thinned to their share of the time, the first one kept', () => {
  // SwiftShader-like: a row of the de-tokenizer 4 s, a VQ decode 15 s. After a 15 s preview the next waits 45 s of
  // drawing, 12 rows of 4 s (11 fall short), so previews take 3 parts in 4 of drawing at most, after the first.
  expect(previewRows(1, 16, 4000, 15000)).toEqual([1, 13]);
  expect(previewRows(4, 16, 4000, 15000)).toEqual([4]);
  // A larger share lets more through: 15 s of drawing after each 15 s preview, 4 rows.
  expect(previewRows(1, 16, 4000, 15000, 0.5)).toEqual([1, 5, 9, 13]);
});

test('never two previews at once: none is due until the one in flight has finished', () => {
  const pacer = new PreviewPacer(1);
  expect(pacer.take(1, 0)).toBe(true);
  expect(pacer.take(2, 1000)).toBe(false);
  pacer.finished(0, 10);
  expect(pacer.take(3, 39)).toBe(false);
  expect(pacer.take(3, 40)).toBe(true);
});

test('rows between the due ones and everyRows 0 give no preview; bad settings are typed errors', () => {
  const pacer = new PreviewPacer(3);
  expect([1, 2].map((row) => pacer.take(row, 0))).toEqual([false, false]);
  expect(pacer.take(3, 0)).toBe(true);
  const off = new PreviewPacer(0);
  expect([1, 2, 3, 4].some((row) => off.take(row, 1e9))).toBe(false);
  expect(() => new PreviewPacer(-1)).toThrow(InvalidArgumentError);
  expect(() => new PreviewPacer(1.5)).toThrow(InvalidArgumentError);
  expect(() => new PreviewPacer(1, 0)).toThrow(InvalidArgumentError);
  expect(() => new PreviewPacer(1, 1.5)).toThrow(InvalidArgumentError);
});
