// How likely a decoder found a given answer: the natural-log probability of each answer id under the logits rows
// that predicted it, summed. Pure arithmetic on logits already read back (float64 sums, a stable log-sum-exp); it
// does not run a graph (llm.ts does).
import { InvalidInputError } from '../errors.ts';

/** Σ_i log softmax(rows[i])[ids[i]] for `rows` [ids.length, vocab] row-major. */
export function answerLogProb(rows: Float32Array, vocab: number, ids: readonly number[]): number {
  if (rows.length !== ids.length * vocab) {
    throw new InvalidInputError(`answer score: ${rows.length} logits are not ${ids.length} rows of ${vocab}`);
  }
  let total = 0;
  for (const [i, id] of ids.entries()) {
    const row = rows.subarray(i * vocab, (i + 1) * vocab);
    let max = -Infinity;
    for (const x of row) if (x > max) max = x;
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    total += (row[id] as number) - max - Math.log(sum);
  }
  return total;
}
