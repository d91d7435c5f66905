// TA-Tok encode and decode (src/models/tatok.ts, src/models/image.ts) on the tiny package in the browser, against
// the torch goldens: preprocessing to 1e-6, indices exact at every pool scale (from pixel_values and from the
// raw image), decoder features within 1e-4 relative; float16 tables; PNG (alpha dropped), JPEG and WebP blobs;
// typed errors; the buffer pool's inUse bytes unchanged by every call.
import { expect, test } from './fixtures.ts';

test('preprocess: the golden image → pixel_values within 1e-6; alpha is dropped; PNG read in tiles is identical', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.preprocessGolden()));
  expect(r.fromRgba.count).toBe(3 * 56 * 56);
  expect(r.fromRgba.mismatches, `max error ${r.fromRgba.maxAbsError}`).toBe(0);
  expect(r.alphaIgnored.maxAbsError).toBe(0);
  expect(r.pngTiles.maxAbsError).toBe(0);
});

test('encode: golden pixel_values and the golden image → the golden indices at pool scales 1, 2, 3; no pool leak', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.encodeGolden()));
  expect(r.pixels.length).toBe(6);
  for (const c of [...r.pixels, ...r.image]) {
    expect(c.actual.length, `scale ${c.scale} row ${c.row}`).toBe([64, 16, 4][c.scale - 1]);
    expect(c.actual, `scale ${c.scale} row ${c.row}`).toEqual(c.expected);
  }
  expect(r.image.map((c) => c.scale)).toEqual([1, 2, 3]);
  expect(r.inUseAfter).toBe(r.inUseBefore);
});

test('decode: golden indices → the golden decoder features within 1e-4 relative; other scales give [p², C]', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.decodeGolden()));
  expect(r.rows.length).toBe(2);
  for (const c of r.rows) {
    expect(c.count).toBe(64 * 48);
    expect(c.mismatches, `max rel error ${c.maxRelError}`).toBe(0);
  }
  expect(r.others).toEqual([
    { scale: 2, length: 16 * 48, finite: true },
    { scale: 3, length: 4 * 48, finite: true },
  ]);
  expect(r.inUseAfter).toBe(r.inUseBefore);
});

test('float16 tables: same indices as the goldens, decoder features within float16 rounding', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.float16Tables()));
  expect(r.storage).toBe('float16');
  for (const c of r.pixels) expect(c.actual, `scale ${c.scale} row ${c.row}`).toEqual(c.expected);
  console.log(`float16 decode: max abs error ${r.decode.maxAbsError} (max |golden| ${r.goldenMax})`);
  expect(r.decode.maxAbsError).toBeGreaterThan(0); // the f16 tables really were used
  expect(r.decode.maxAbsError).toBeLessThan(1e-2 * r.goldenMax);
});

test('blobs: PNG with alpha, JPEG and WebP decode to their stored RGB and encode', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.blobs()));
  expect(r.map((b) => b.kind)).toEqual(['png+alpha', 'image/jpeg', 'image/webp']);
  for (const b of r) {
    expect(b.width, b.kind).toBe(61);
    expect(b.preprocess.maxAbsError, b.kind).toBe(0);
    expect(b.indices.length, b.kind).toBe(16);
    for (const i of b.indices) expect(i >= 0 && i < 256, `${b.kind} index ${i}`).toBe(true);
  }
});

test('a 4100×4100 PNG (3×3 GPU tiles) gives the same pixel_values as its raw RGBA', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.largeImage(4100)));
  console.log(`4100² preprocess: raw ${r.rawMs.toFixed(0)} ms, PNG blob ${r.blobMs.toFixed(0)} ms`);
  expect(r.closeness.maxAbsError).toBe(0);
  expect(r.indices).toBe(4);
});

test('typed errors: not an image, 0×0, oversize, short data, unknown scale, bad indices, NaN, abort; no pool leak', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.errors()));
  const e = r.errors;
  for (const name of ['notImage', 'emptyRgba', 'emptyPng', 'wideRgba', 'tooManyPixels', 'widePng', 'shortData', 'notAnImageObject', 'pixelCount', 'nanPixels', 'decodeCount', 'decodeIndex']) {
    expect(e[name], name).toMatchObject({ name: 'InvalidInputError', code: 'invalid-input' });
  }
  for (const name of ['encodeScale', 'encodePixelsScale', 'decodeScale']) {
    expect(e[name], name).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
  }
  expect(e.notImage?.message).toContain('not a decodable image');
  expect(e.wideRgba?.message).toContain('16384 px a side');
  expect(e.tooManyPixels?.message).toContain('9000×8000');
  expect(e.widePng?.message).toContain('17000×1');
  expect(e.emptyRgba?.message).toContain('empty');
  expect(e.abortedEncode).toMatchObject({ name: 'AbortError' });
  expect(e.abortedDecode).toMatchObject({ name: 'AbortError' });
  expect(r.inUseAfter).toBe(r.inUseBefore);
});
