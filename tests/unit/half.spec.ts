// binary16 conversion: exact values, rounding to nearest even, subnormals, overflow, NaN.
import { expect, test } from '@playwright/test';
import { fromHalfBits, toHalfArray, toHalfBits } from '../../src/util/half.ts';

test('exact values round-trip', () => {
  for (const v of [0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, 1.5, 1000]) {
    expect(fromHalfBits(toHalfBits(v))).toBe(v);
  }
  expect(toHalfBits(1)).toBe(0x3c00);
  expect(toHalfBits(-0)).toBe(0x8000);
});

test('rounds to nearest, ties to even', () => {
  expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00);
  expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  expect(toHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
  expect(fromHalfBits(toHalfBits(2 ** -25 * 3))).toBe(2 ** -23);
});

test('overflow, underflow and NaN', () => {
  expect(fromHalfBits(toHalfBits(70000))).toBe(Infinity);
  expect(fromHalfBits(toHalfBits(-1e6))).toBe(-Infinity);
  expect(toHalfBits(2 ** -26)).toBe(0);
  expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
});

test('array conversion keeps relative error within 2^-11', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10);
  const halves = toHalfArray(values);
  let worst = 0;
  values.forEach((v, i) => {
    if (Math.abs(v) > 1e-3) worst = Math.max(worst, Math.abs(fromHalfBits(halves[i] as number) - v) / Math.abs(v));
  });
  expect(worst).toBeLessThanOrEqual(2 ** -11);
});
