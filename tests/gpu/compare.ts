// Comparison helpers shared by the GPU probes: they run in the page and return plain numbers that the
// Playwright side asserts on.

export interface Closeness {
  maxAbsError: number;
  maxRelError: number;
  /** Elements outside |a - b| ≤ atol + rtol·|b|. */
  mismatches: number;
  count: number;
}

/** The index of the largest value (the first of equals; NaN, a token never drawn, skipped), or −1 when all are NaN:
 *  what a greedy draw picks. */
export function argmax(values: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    if (!Number.isNaN(x) && (best < 0 || x > (values[best] as number))) best = i;
  }
  return best;
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
