// The median of a list of numbers (null for an empty list), for the Node-side benchmark scripts
// (bench/eval-shapes.mjs, bench/run-graphs.mjs). The pages' own is in bench/timing.ts.

/** The middle value of `xs` sorted, or the mean of the two middle ones; null when `xs` is empty. */
export function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
