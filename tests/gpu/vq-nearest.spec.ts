// Codebook nearest neighbour (TA-Tok quantiser) against the float64 CPU reference: random shapes, sizes
// that are not multiples of the tile, N = 1, odd D, exact ties, forced chunk splits (by option and by a
// device capped to 128 MiB bindings), GPU-buffer queries, typed errors, and Tar's real size once.
// Indices are compared exactly except for reference near-ties (best − second-best ≤ 1e-5·|q|, counted
// separately, where the GPU's row must be within that noise of the best); scores to 1e-5 absolute (seen:
// ≤ 2e-6 at D = 1536).
import { expect, test } from './fixtures.ts';
import type { VqCase } from './probes/vq-nearest.ts';

const SCORE_TOLERANCE = 1e-5;

const cases: (VqCase & { label: string })[] = [
  { label: 'N=1 K=1 D=1', queries: 1, size: 1, dim: 1, seed: 1 },
  { label: 'N=1 K=300 D=7', queries: 1, size: 300, dim: 7, seed: 2 },
  { label: 'N=5 K=257 D=33 (odd D, K past one block)', queries: 5, size: 257, dim: 33, seed: 3 },
  { label: 'N=13 K=1000 D=64', queries: 13, size: 1000, dim: 64, seed: 4 },
  { label: 'N=81 K=600 D=96 (Tar N, small K)', queries: 81, size: 600, dim: 96, seed: 5 },
  { label: 'N=7 K=1500 D=10 chunkRows=300 (5 chunks)', queries: 7, size: 1500, dim: 10, seed: 6, chunkRows: 300 },
  { label: 'N=9 K=150 D=5 chunkRows=1 (one row per chunk)', queries: 9, size: 150, dim: 5, seed: 7, chunkRows: 1 },
  { label: 'N=6 K=900 D=20 GPU-buffer queries', queries: 6, size: 900, dim: 20, seed: 8, gpuQueries: true },
  {
    label: 'N=10 K=777 D=30 tile 32×8×2',
    queries: 10,
    size: 777,
    dim: 30,
    seed: 9,
    tile: { workgroupSize: 32, rows: 8, queryVecs: 2 },
  },
  { label: 'N=3 K=50 D=3 tile 1×1×1', queries: 3, size: 50, dim: 3, seed: 10, tile: { workgroupSize: 1, rows: 1, queryVecs: 1 } },
];

for (const c of cases) {
  test(`vq_nearest ${c.label}`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate((x) => window.harness.vqNearest(x), c);
    expect(r.count).toBe(c.queries);
    expect(r.storage).toBe('f32');
    if (c.chunkRows) expect(r.chunks).toBe(Math.ceil(c.size / c.chunkRows));
    expect(r.firstMismatch).toBeNull();
    expect(r.indexMismatches).toBe(0);
    expect(r.nearTieMismatches).toBe(0);
    expect(r.maxScoreError).toBeLessThanOrEqual(SCORE_TOLERANCE);
  });
}

test('vq_nearest over 12 random shapes (random chunk splits and query tiles)', async ({ harnessPage }) => {
  // A tiny LCG picks the shapes, so the list is the same on every run.
  let state = 12345;
  const next = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return 1 + (state % n);
  };
  const failures: string[] = [];
  for (let i = 0; i < 12; i++) {
    const c: VqCase = { queries: next(40), size: next(1500), dim: next(70), seed: 100 + i };
    if (i % 3 === 0) c.chunkRows = next(c.size);
    if (i % 4 === 1) c.tile = { workgroupSize: 2 ** (next(7) - 1), rows: next(8), queryVecs: next(4) };
    const r = await harnessPage.evaluate((x) => window.harness.vqNearest(x), c);
    if (r.indexMismatches || r.nearTieMismatches || !(r.maxScoreError <= SCORE_TOLERANCE)) {
      failures.push(`${JSON.stringify(c)}: ${JSON.stringify({ ...r, indices: undefined, referenceIndices: undefined })}`);
    }
  }
  expect(failures).toEqual([]);
});

test('vq_nearest exact ties (duplicated best rows) go to the lowest index, across chunks too', async ({ harnessPage }) => {
  for (const c of [
    { queries: 12, size: 2000, dim: 24, seed: 21, duplicateBest: true },
    { queries: 12, size: 2000, dim: 24, seed: 22, duplicateBest: true, chunkRows: 333 },
  ]) {
    const r = await harnessPage.evaluate((x) => window.harness.vqNearest(x), c);
    expect(r.indices).toEqual(r.referenceIndices);
    expect(r.indexMismatches).toBe(0);
    expect(r.maxScoreError).toBeLessThanOrEqual(SCORE_TOLERANCE);
  }
});

test('vq_nearest zero queries give row 0 with score 0', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.vqNearestZeroQuery());
  expect(r).toEqual({ indices: [0, 0], scores: [0, 0] });
});

test('vq_nearest typed errors, and the f32 path chosen without shader-f16', async ({ harnessPage }) => {
  const e = await harnessPage.evaluate(() => window.harness.vqNearestErrors());
  expect(e.dimMismatch).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  expect(e.emptyCodebook).toMatchObject({ name: 'InvalidInputError' });
  expect(e.noQueries).toMatchObject({ name: 'InvalidArgumentError' });
  expect(e.nanQuery).toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('query 1') });
  expect(e.infGpuQuery).toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('query 2') });
  expect(e.notNormalised).toMatchObject({ name: 'InvalidInputError', message: expect.stringContaining('row 3') });
  expect(e.wrongCodebookLength).toMatchObject({ name: 'InvalidInputError' });
  expect(e.badTile).toMatchObject({ name: 'InvalidArgumentError' });
  expect(e.defaultStorage).toBe(e.shaderF16 ? 'f16' : 'f32');
  if (!e.shaderF16) expect(e.f16WithoutFeature).toMatchObject({ name: 'InvalidArgumentError' });
  expect(e.afterwards).toHaveLength(3);
});

test('vq_nearest at Tar size N=9 K=65536 D=1536 on a device capped to 128 MiB bindings', async ({ harnessPage }) => {
  test.setTimeout(180_000);
  const c = { queries: 9, size: 65536, dim: 1536, seed: 31, capBytes: 128 * 1024 * 1024 };
  const r = await harnessPage.evaluate((x) => window.harness.vqNearest(x), c);
  expect(r.chunks).toBe(4);
  expect(r.firstMismatch).toBeNull();
  expect(r.indexMismatches).toBe(0);
  expect(r.nearTieMismatches).toBe(0);
  expect(r.maxScoreError).toBeLessThanOrEqual(SCORE_TOLERANCE);
});
