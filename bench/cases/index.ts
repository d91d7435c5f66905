// The benchmark cases, in run order. fma_ceiling runs first: the others report fractions of it.
import type { BenchCase } from '../types.ts';
import { attentionCase } from './attention.ts';
import { fmaCeilingCase } from './fma-ceiling.ts';
import { sampleCase } from './sample.ts';
import { vqNearestCase } from './vq-nearest.ts';

export const benchCases: BenchCase[] = [fmaCeilingCase, attentionCase, vqNearestCase, sampleCase];
