// Comparison helpers shared by the GPU probes: they run in the page and return plain numbers that the
// Playwright side asserts on.

export interface Closeness {
  maxAbsError: number;
  maxRelError: number;
  /** Elements outside |a - b| ≤ atol + rtol·|b|. */
  mismatches: number;
  count: number;
}

export function compareArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): Closeness {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let maxAbsError = 0;
  let maxRelError = 0;
  let mismatches = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const b = expected[i] as number;
    const err = Math.abs(a - b);
    if (!(err <= atol + rtol * Math.abs(b))) mismatches++;
    if (!(err <= maxAbsError)) maxAbsError = err;
    const rel = err / Math.max(Math.abs(b), 1e-30);
    if (rel > maxRelError) maxRelError = rel;
  }
  return { maxAbsError, maxRelError, mismatches, count: actual.length };
}
