// The seeded generator: reproducible, in range, roughly uniform.
import { expect, test } from '@playwright/test';
import { SeededRandom } from '../../src/util/random.ts';

test('same seed, same sequence; different seed, different sequence', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const seqA = Array.from({ length: 8 }, () => a.nextUint32());
  expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(seqA);
  expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(seqA);
});

test('uniforms lie in [0, 1) with mean near 1/2', () => {
  const r = new SeededRandom(1);
  let sum = 0;
  let outside = 0;
  for (let i = 0; i < 100_000; i++) {
    const u = r.next();
    if (!(u >= 0 && u < 1)) outside++;
    sum += u;
  }
  expect(outside).toBe(0);
  expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01);
});
