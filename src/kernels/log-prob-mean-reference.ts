// The mean log-probabilities of several logits rows on the CPU: the reference shaders/log_prob_mean.wgsl
// (src/kernels/log-prob-mean.ts) must match, and the shape checks both share. Chat's test-time views combine
// this way: (1/R) Σ_r log_softmax(row r).
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';

export interface RowsShape {
  rows: number;
  vocab: number;
}

export function checkRowsShape(shape: RowsShape): void {
  for (const [name, value] of [['rows', shape.rows], ['vocab', shape.vocab]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`log_prob_mean: ${name} = ${value} must be a positive integer`);
  }
}

/** CPU reference (float64): the mean row [vocab]; NaN where any row's value is not finite, and everywhere when
 *  a row has no finite value. */
export function logProbMeanReference(shape: RowsShape, logits: Float32Array): Float32Array {
  checkRowsShape(shape);
  const { rows, vocab } = shape;
  if (logits.length !== rows * vocab) throw new InvalidInputError(`log_prob_mean: ${logits.length} logits for a [${rows}, ${vocab}] shape`);
  const lse: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    let top = -Infinity;
    for (const x of row) if (Number.isFinite(x) && x > top) top = x;
    let sum = 0;
    for (const x of row) if (Number.isFinite(x)) sum += Math.exp(x - top);
    lse.push(top === -Infinity ? Number.NaN : top + Math.log(sum));
  }
  const out = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) {
    let acc = 0;
    for (let r = 0; r < rows; r++) acc += (logits[r * vocab + i] as number) - (lse[r] as number);
    out[i] = Number.isFinite(acc) ? acc / rows : Number.NaN;
  }
  return out;
}
