// Chunk planning and query-tile choice of the codebook nearest-neighbour kernel (pure logic).
import { expect, test } from '@playwright/test';
import { chooseQueryVecs, planChunks } from '../../src/kernels/vq-nearest-plan.ts';

const MiB = 1024 * 1024;

test("Tar's f32 codebook on a 128 MiB-binding device splits into 4 chunks within the limit", () => {
  const chunks = planChunks(65536, 1536, 4, 512, 128 * MiB);
  expect(chunks.map((c) => c.rows)).toEqual([21504, 21504, 21504, 1024]);
  for (const c of chunks) expect(c.stride * 1536 * 4).toBeLessThanOrEqual(128 * MiB);
  expect(chunks.map((c) => c.baseRow)).toEqual([0, 21504, 43008, 64512]);
});

test('f16 storage halves the chunk count; a 1 GiB device takes one chunk', () => {
  expect(planChunks(65536, 1536, 2, 512, 128 * MiB)).toHaveLength(2);
  expect(planChunks(65536, 1536, 4, 512, 1024 * MiB)).toEqual([{ baseRow: 0, rows: 65536, stride: 65536 }]);
});

test('an explicit chunkRows pads each chunk to whole blocks and covers every row once', () => {
  const chunks = planChunks(1000, 10, 4, 256, 1024 * MiB, 300);
  expect(chunks).toEqual([
    { baseRow: 0, rows: 300, stride: 512 },
    { baseRow: 300, rows: 300, stride: 512 },
    { baseRow: 600, rows: 300, stride: 512 },
    { baseRow: 900, rows: 100, stride: 256 },
  ]);
  // chunkRows above what fits is capped by the limit.
  expect(planChunks(4096, 1024, 4, 256, 4 * MiB, 4000).map((c) => c.rows)).toEqual([1024, 1024, 1024, 1024]);
});

test('limits too small for one block, and a bad chunkRows, are typed errors', () => {
  expect(() => planChunks(10, 1536, 4, 512, 1 * MiB)).toThrow(expect.objectContaining({ name: 'GpuLimitError' }));
  expect(() => planChunks(10, 8, 4, 64, MiB, 0)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
  expect(() => planChunks(10, 8, 4, 64, MiB, 2.5)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }));
});

test("query tiles for Tar's N and small N", () => {
  expect(chooseQueryVecs(1)).toBe(1);
  expect(chooseQueryVecs(4)).toBe(1);
  expect(chooseQueryVecs(9)).toBe(3);
  expect(chooseQueryVecs(81)).toBe(3);
  expect(chooseQueryVecs(169)).toBe(4);
  expect(chooseQueryVecs(729)).toBe(4);
  expect(chooseQueryVecs(729, 2)).toBe(2);
});
