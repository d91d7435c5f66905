// Probe: the mean log-probabilities of several rows (chat's test-time views) on the GPU against the CPU reference.
import { logProbMean } from '../../../src/kernels/log-prob-mean.ts';
import { logProbMeanReference, type RowsShape } from '../../../src/kernels/log-prob-mean-reference.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { argmax, compareArrays, type Closeness } from '../compare.ts';
import { gpu } from './context.ts';

export interface LogProbMeanCase extends RowsShape {
  seed: number;
  /** Logits of this many random tokens per row set to −∞ (masked). */
  masked?: number;
  /** A large constant added to row 0 (log-softmax must not care). */
  offset?: number;
  /** Row 1 holds no finite value. */
  deadRow?: boolean;
}

export interface LogProbMeanReport {
  /** Over the tokens both sides find finite. */
  finite: Closeness;
  /** Tokens where one side is NaN (never drawable) and the other is not. */
  nanDisagreements: number;
  nans: number;
  sameArgmax: boolean;
}

export async function logProbMeanProbe(c: LogProbMeanCase): Promise<LogProbMeanReport> {
  const random = new SeededRandom(c.seed);
  const logits = Float32Array.from({ length: c.rows * c.vocab }, () => 12 * random.next() - 6);
  for (let r = 0; r < c.rows; r++) {
    for (let m = 0; m < (c.masked ?? 0); m++) logits[r * c.vocab + Math.floor(random.next() * c.vocab)] = -Infinity;
  }
  if (c.offset) for (let i = 0; i < c.vocab; i++) logits[i] = (logits[i] as number) + c.offset;
  if (c.deadRow) logits.fill(-Infinity, c.vocab, 2 * c.vocab);
  const actual = await logProbMean(await gpu(), c, logits);
  const expected = logProbMeanReference(c, logits);
  const both = [...expected.keys()].filter((i) => !Number.isNaN(actual[i]) && !Number.isNaN(expected[i]));
  return {
    finite: compareArrays(both.map((i) => actual[i] as number), both.map((i) => expected[i] as number), 1e-4, 1e-5),
    nanDisagreements: [...expected.keys()].filter((i) => Number.isNaN(actual[i]) !== Number.isNaN(expected[i])).length,
    nans: expected.filter(Number.isNaN).length,
    sameArgmax: argmax(actual) === argmax(expected),
  };
}

/** The kernel's typed refusals: a wrong-sized input and an empty shape. */
export async function logProbMeanWrongSizeProbe(shape: RowsShape, length: number): Promise<Float32Array> {
  return logProbMean(await gpu(), shape, new Float32Array(length));
}
