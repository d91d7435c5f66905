// Where sampling draws get their uniform numbers: a seeded generator (the product) or an explicit list
// (tests that replay a reference). Each stream is used by one generator loop only.
import { InvalidArgumentError } from '../errors.ts';
import { SeededRandom } from '../util/random.ts';

export type UniformSource = () => number;

export function seededUniforms(seed: number): UniformSource {
  const random = new SeededRandom(seed);
  return () => random.next();
}

export function listedUniforms(values: ArrayLike<number>, what: string): UniformSource {
  let next = 0;
  return () => {
    if (next >= values.length) throw new InvalidArgumentError(`${what}: only ${values.length} uniforms were given`);
    return values[next++] as number;
  };
}

/** Mixes a self-check candidate's number into its image's seed (candidate 0 keeps the image's own streams). */
const CANDIDATE_MIX = 0x9e3779b9;

/** Mixes a de-tokenizer drawing's number into its image's de-tokenizer seed (drawing 0 keeps the image's own stream). */
const DRAWING_MIX = 0x85ebca6b;

/** Independent streams for the LLM and the de-tokenizer of image `image` of a job seeded with `seed`; with
 *  `candidate` c > 0, those of that image's c-th self-check candidate (imagine's `candidates`); with `drawing`
 *  d > 0, the de-tokenizer's stream of the d-th drawing of the same image tokens (imagine's `drawings`; the LLM's
 *  stream does not depend on it). */
export function imageUniforms(seed: number, image: number, candidate = 0, drawing = 0): { llm: UniformSource; detok: UniformSource } {
  const base = ((seed + image) ^ Math.imul(candidate, CANDIDATE_MIX)) >>> 0;
  return { llm: seededUniforms(base), detok: seededUniforms((base ^ 0x5bd1e995 ^ Math.imul(drawing, DRAWING_MIX)) >>> 0) };
}
