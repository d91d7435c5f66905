// Probe: codebook nearest neighbour on the GPU against the float64 CPU reference, plus its typed errors.
import { GpuContext } from '../../../src/gpu/context.ts';
import {
  createCodebook,
  nearest,
  nearestReference,
  type CodebookOptions,
  type VqTile,
} from '../../../src/kernels/vq-nearest.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';
import { gpu } from './context.ts';

export interface VqCase {
  queries: number;
  size: number;
  dim: number;
  seed: number;
  chunkRows?: number;
  tile?: VqTile;
  /** Cap the device's binding and buffer sizes (a fresh context) to force chunking by the limits. */
  capBytes?: number;
  /** Copy the rows each query is nearest to into later rows too, so exact ties must go to the lowest. */
  duplicateBest?: boolean;
  /** Pass the queries as a GPU buffer instead of a Float32Array. */
  gpuQueries?: boolean;
}

export interface VqReport {
  count: number;
  chunks: number;
  storage: string;
  /** Queries whose GPU index differs from the reference's, outside near-ties. */
  indexMismatches: number;
  /** Queries whose best and second-best reference dots are within float32 noise (either index allowed). */
  nearTies: number;
  /** Near-tie queries where the GPU's row is not within the noise of the best. */
  nearTieMismatches: number;
  maxScoreError: number;
  firstMismatch: { query: number; gpu: number; reference: number } | null;
  /** Indices chosen, for exact-tie checks (only for small N). */
  indices: number[];
  referenceIndices: number[];
}

/** K unit rows of dimension D (normals, normalised in float64). */
function unitRows(random: SeededRandom, size: number, dim: number): Float32Array {
  const rows = random.normals(size * dim);
  for (let k = 0; k < size; k++) {
    let sumSq = 0;
    for (let d = 0; d < dim; d++) sumSq += (rows[k * dim + d] as number) ** 2;
    const inv = 1 / Math.sqrt(sumSq);
    for (let d = 0; d < dim; d++) rows[k * dim + d] = (rows[k * dim + d] as number) * inv;
  }
  return rows;
}

/** Half the queries are plain normals, half are a random codebook row plus noise (a clear winner). */
function makeQueries(random: SeededRandom, rows: Float32Array, count: number, size: number, dim: number): Float32Array {
  const queries = random.normals(count * dim);
  for (let q = 0; q < count; q += 2) {
    const k = random.int(size);
    const scale = 0.5 + 3 * random.next();
    for (let d = 0; d < dim; d++) {
      queries[q * dim + d] = scale * ((rows[k * dim + d] as number) + 0.5 * (queries[q * dim + d] as number) / Math.sqrt(dim));
    }
  }
  return queries;
}

function dotOf(rows: Float32Array, k: number, queries: Float32Array, q: number, dim: number): number {
  let dot = 0;
  for (let d = 0; d < dim; d++) dot += (rows[k * dim + d] as number) * (queries[q * dim + d] as number);
  return dot;
}

export async function vqNearestProbe(c: VqCase): Promise<VqReport> {
  const ctx = c.capBytes
    ? await GpuContext.create({ capLimits: { maxStorageBufferBindingSize: c.capBytes, maxBufferSize: c.capBytes } })
    : await gpu();
  const random = new SeededRandom(c.seed);
  const rows = unitRows(random, c.size, c.dim);
  const queries = makeQueries(random, rows, c.queries, c.size, c.dim);
  if (c.duplicateBest) {
    // Copy each query's nearest row over a later row: the two tie exactly, the earlier must win.
    const before = nearestReference(rows, c.size, c.dim, queries, c.queries);
    for (let q = 0; q < c.queries; q++) {
      const best = before.indices[q] as number;
      if (best + 1 >= c.size) continue;
      const target = best + 1 + random.int(c.size - best - 1);
      rows.copyWithin(target * c.dim, best * c.dim, (best + 1) * c.dim);
    }
  }
  const options: CodebookOptions = {};
  if (c.chunkRows !== undefined) options.chunkRows = c.chunkRows;
  if (c.tile) options.tile = c.tile;
  const codebook = createCodebook(ctx, rows, c.size, c.dim, options);
  let input: Float32Array | GPUBuffer = queries;
  if (c.gpuQueries) input = ctx.upload(queries, GPUBufferUsage.STORAGE, 'test.queries');
  const actual = await nearest(ctx, codebook, input, c.queries);
  if (input instanceof GPUBuffer) input.destroy();
  const chunks = codebook.chunks.length;
  const storage = codebook.storage;
  codebook.destroy();
  if (c.capBytes) ctx.dispose();

  const expected = nearestReference(rows, c.size, c.dim, queries, c.queries);
  let indexMismatches = 0;
  let nearTies = 0;
  let nearTieMismatches = 0;
  let maxScoreError = 0;
  let firstMismatch: VqReport['firstMismatch'] = null;
  for (let q = 0; q < c.queries; q++) {
    const got = actual.indices[q] as number;
    const want = expected.indices[q] as number;
    const norm = Math.sqrt(dotOf(queries, q, queries, q, c.dim));
    // float32 noise of a D-term dot product of a unit row with q: a few ulps of |q|.
    const noise = 1e-5 * norm;
    const exactTie = c.duplicateBest === true;
    if (!exactTie && (expected.gaps[q] as number) <= noise) {
      nearTies++;
      const gotDot = got < c.size ? dotOf(rows, got, queries, q, c.dim) : -Infinity;
      if (!(dotOf(rows, want, queries, q, c.dim) - gotDot <= noise)) nearTieMismatches++;
    } else if (got !== want) {
      indexMismatches++;
      firstMismatch ??= { query: q, gpu: got, reference: want };
    }
    maxScoreError = Math.max(maxScoreError, Math.abs((actual.scores[q] as number) - (expected.scores[q] as number)));
  }
  const small = c.queries <= 64;
  return {
    count: c.queries,
    chunks,
    storage,
    indexMismatches,
    nearTies,
    nearTieMismatches,
    maxScoreError,
    firstMismatch,
    indices: small ? Array.from(actual.indices) : [],
    referenceIndices: small ? Array.from(expected.indices) : [],
  };
}

/** Zero queries: every cosine is 0, so row 0 wins with score 0 (F.normalize's eps keeps it finite). */
export async function vqNearestZeroQueryProbe(): Promise<{ indices: number[]; scores: number[] }> {
  const ctx = await gpu();
  const random = new SeededRandom(5);
  const rows = unitRows(random, 40, 12);
  const codebook = createCodebook(ctx, rows, 40, 12);
  const result = await nearest(ctx, codebook, new Float32Array(2 * 12), 2);
  codebook.destroy();
  return { indices: Array.from(result.indices), scores: Array.from(result.scores) };
}

export interface VqErrors {
  dimMismatch: ThrownError | null;
  emptyCodebook: ThrownError | null;
  noQueries: ThrownError | null;
  nanQuery: ThrownError | null;
  infGpuQuery: ThrownError | null;
  notNormalised: ThrownError | null;
  wrongCodebookLength: ThrownError | null;
  badTile: ThrownError | null;
  f16WithoutFeature: ThrownError | null;
  defaultStorage: string;
  shaderF16: boolean;
  /** A call after the errors still works (nothing was left broken). */
  afterwards: number[];
}

export async function vqNearestErrorsProbe(): Promise<VqErrors> {
  const ctx = await gpu();
  const dim = 6;
  const size = 10;
  const rows = unitRows(new SeededRandom(11), size, dim);
  const codebook = createCodebook(ctx, rows, size, dim);
  const queries = new SeededRandom(12).normals(3 * dim);
  const nanQueries = queries.slice();
  nanQueries[dim + 2] = NaN;
  const infQueries = queries.slice();
  infQueries[2 * dim + 5] = -Infinity;
  const infBuffer = ctx.upload(infQueries, GPUBufferUsage.STORAGE, 'test.infQueries');
  const unnormalised = rows.slice();
  unnormalised[3 * dim] = (unnormalised[3 * dim] as number) + 0.5;
  const report: VqErrors = {
    dimMismatch: await describeErrorForTest(() => nearest(ctx, codebook, new Float32Array(3 * (dim + 1)), 3)),
    emptyCodebook: await describeErrorForTest(() => createCodebook(ctx, new Float32Array(0), 0, dim)),
    noQueries: await describeErrorForTest(() => nearest(ctx, codebook, new Float32Array(0), 0)),
    nanQuery: await describeErrorForTest(() => nearest(ctx, codebook, nanQueries, 3)),
    infGpuQuery: await describeErrorForTest(() => nearest(ctx, codebook, infBuffer, 3)),
    notNormalised: await describeErrorForTest(() => createCodebook(ctx, unnormalised, size, dim)),
    wrongCodebookLength: await describeErrorForTest(() => createCodebook(ctx, rows, size + 1, dim)),
    badTile: await describeErrorForTest(() =>
      createCodebook(ctx, rows, size, dim, { tile: { workgroupSize: 64, rows: 9, queryVecs: 1 } }),
    ),
    f16WithoutFeature: ctx.info.features.shaderF16
      ? null
      : await describeErrorForTest(() => createCodebook(ctx, rows, size, dim, { storage: 'f16' })),
    defaultStorage: codebook.storage,
    shaderF16: ctx.info.features.shaderF16,
    afterwards: Array.from((await nearest(ctx, codebook, queries, 3)).indices),
  };
  infBuffer.destroy();
  codebook.destroy();
  return report;
}

/** Times one nearest() call (after a warm-up) for tile comparisons; returns milliseconds per call. */
export async function vqNearestTimingProbe(c: VqCase, runs: number): Promise<{ ms: number[]; gflops: number }> {
  const ctx = await gpu();
  const random = new SeededRandom(c.seed);
  const rows = random.normals(c.size * c.dim, 1 / Math.sqrt(c.dim));
  const options: CodebookOptions = {};
  if (c.tile) options.tile = c.tile;
  for (let k = 0; k < c.size; k++) {
    let sumSq = 0;
    for (let d = 0; d < c.dim; d++) sumSq += (rows[k * c.dim + d] as number) ** 2;
    const inv = 1 / Math.sqrt(sumSq);
    for (let d = 0; d < c.dim; d++) rows[k * c.dim + d] = (rows[k * c.dim + d] as number) * inv;
  }
  const codebook = createCodebook(ctx, rows, c.size, c.dim, options);
  const queries = random.normals(c.queries * c.dim);
  await nearest(ctx, codebook, queries, c.queries);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await nearest(ctx, codebook, queries, c.queries);
    ms.push(performance.now() - start);
  }
  codebook.destroy();
  const best = Math.min(...ms);
  return { ms, gflops: (2 * c.queries * c.size * c.dim) / (best * 1e6) };
}

/** Registered on `window.harness` by tests/gpu/harness.ts. */
export const vqNearestProbes = {
  vqNearest: vqNearestProbe,
  vqNearestZeroQuery: vqNearestZeroQueryProbe,
  vqNearestErrors: vqNearestErrorsProbe,
  vqNearestTiming: vqNearestTimingProbe,
};
