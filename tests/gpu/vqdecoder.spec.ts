// VqDecoder (src/models/vqdecoder.ts) on the tiny package in the browser: codes → ONNX decoder in
// onnxruntime-web (WebGPU, shared device) → WGSL uint8 conversion, against the torch goldens
// (tests/fixtures/goldens/vq.safetensors) and the pipeline golden's last step; previews of partial grids;
// typed errors.
import { expect, test } from './fixtures.ts';

test('full grids match the torch uint8 image (input.codes → output.image_uint8)', async ({ harnessPage }) => {
  const results = await harnessPage.evaluate(() => window.harness.vqGolden());
  console.log(results.map((r) => `${r.width}×${r.height}: ${r.differing}/${r.count} values differ (max ${r.maxDiff}), ${r.ms.toFixed(0)} ms`).join('; '));
  expect(results.length).toBe(2);
  for (const r of results) {
    expect([r.width, r.height]).toEqual([64, 64]);
    expect(r.maxDiff).toBeLessThanOrEqual(1);
    expect(r.differing / r.count).toBeLessThan(0.001);
    expect(r.badAlpha).toBe(0);
  }
});

test("the 'small' size (2×2 codes) matches the torch image post-processed", async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.vqSmall());
  console.log(`small ${r.width}×${r.height}: ${r.differing}/${r.count} values differ (max ${r.maxDiff})`);
  expect([r.width, r.height]).toEqual([32, 32]);
  expect(r.maxDiff).toBeLessThanOrEqual(1);
  expect(r.badAlpha).toBe(0);
});

test("the pipeline golden's VQ codes give its uint8 image (detok.codes → vq.image_uint8)", async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.vqPipeline());
  console.log(`pipeline ${r.width}×${r.height}: ${r.differing}/${r.count} values differ (max ${r.maxDiff}), ${r.ms.toFixed(0)} ms`);
  expect([r.width, r.height]).toEqual([64, 64]);
  expect(r.maxDiff).toBeLessThanOrEqual(1);
  expect(r.differing / r.count).toBeLessThan(0.001);
  expect(r.badAlpha).toBe(0);
});

test('previews: unknown codes copy the row above, the first row the last known code', async ({ harnessPage }) => {
  const fill = (codes: number[], side: number, known: number) =>
    harnessPage.evaluate(([c, s, k]) => window.harness.vqFill(c, s, k), [codes, side, known] as const);
  expect(await fill([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 5)).toEqual([1, 2, 3, 4, 5, 3, 4, 5, 3]);
  expect(await fill([1, 2, 0, 0, 0, 0, 0, 0, 0], 3, 2)).toEqual([1, 2, 2, 1, 2, 2, 1, 2, 2]);
  expect(await fill([7, 7, 7, 7], 2, 0)).toEqual([0, 0, 0, 0]);
  expect(await fill([1, 2, 3, 4], 2, 4)).toEqual([1, 2, 3, 4]);

  const r = await harnessPage.evaluate(() => window.harness.vqPreview(3));
  expect(r.width).toBe(32);
  expect(r.differingBytes, 'preview = full decode of the filled grid').toBe(0);
  expect(r.shortDifferingBytes, 'passing only the known codes gives the same preview').toBe(0);
  expect(r.filled[3]).toBe(r.filled[1]);
});

test('typed errors: code outside the codebook, wrong count, bad side or known', async ({ harnessPage }) => {
  const error = (codes: number[], side: number, known?: number) =>
    harnessPage.evaluate(([c, s, k]) => window.harness.vqError(c, s, k), [codes, side, known] as const);
  const ok = new Array<number>(4).fill(3);
  expect(await error(ok, 2)).toBeNull();
  const outOfRange = await error([0, 1, 64, 2], 2);
  expect(outOfRange).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  expect(outOfRange?.message).toContain('code 64 at index 2');
  expect(await error([0, 1, 2], 2)).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  expect(await error([0, 1, 2, 3, 4], 2)).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  expect(await error([0], 2, 2)).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  expect(await error(ok, 2, 5)).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
  expect(await error(ok, 0)).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
  // a code past `known` is ignored (a preview of a buffer still being filled)
  expect(await error([0, 1, 64, 999], 2, 2)).toBeNull();
});
