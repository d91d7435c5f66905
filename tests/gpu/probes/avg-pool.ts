// Probe: average pooling on the GPU against its CPU reference.
import { avgPool, avgPoolReference, type PoolShape } from '../../../src/kernels/avg-pool.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { compareArrays, type Closeness } from '../compare.ts';
import { gpu } from './context.ts';

export async function avgPoolProbe(shape: PoolShape, seed: number): Promise<Closeness> {
  const ctx = await gpu();
  const tokens = new SeededRandom(seed).normals(shape.batch * shape.height * shape.width * shape.channels);
  const actual = await avgPool(ctx, shape, tokens);
  return compareArrays(actual, avgPoolReference(shape, tokens), 1e-5, 1e-5);
}

/** Pools an input whose length does not match the shape (the kernel must refuse, not fault). */
export async function avgPoolWrongSizeProbe(shape: PoolShape, length: number): Promise<Float32Array> {
  return avgPool(await gpu(), shape, new Float32Array(length));
}
