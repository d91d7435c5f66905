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

/** Independent streams for the LLM and the de-tokenizer of image `image` of a job seeded with `seed`. */
export function imageUniforms(seed: number, image: number): { llm: UniformSource; detok: UniformSource } {
  const base = (seed + image) >>> 0;
  return { llm: seededUniforms(base), detok: seededUniforms((base ^ 0x5bd1e995) >>> 0) };
}
