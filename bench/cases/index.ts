// The benchmark cases, in run order. fma_ceiling runs first: the others report fractions of it.
import type { BenchCase } from '../types.ts';

export const benchCases: BenchCase[] = [];
