// TA-Tok encode and decode (src/models/tatok.ts, src/models/image.ts) on the tiny package in the browser, against
// the torch goldens: preprocessing to 1e-6, indices exact at every pool scale (from pixel_values and from the
// raw image), decoder features within 1e-4 relative; float16 tables; PNG (alpha dropped), JPEG and WebP blobs;
// typed errors; the buffer pool's inUse bytes unchanged by every call.
import { bilinearAxis } from '../../src/models/image.ts';
import { expect, test } from './fixtures.ts';

// torch 1.13 F.interpolate(bilinear, align_corners=False) weights, read off interpolating one-hot rows:
// [in, out, [[dst, [[src, weight], …]], …]] (float32 values; a clamped edge shows as one source of weight 1).
const TORCH_WEIGHTS: [number, number, [number, [number, number][]][]][] = [
  [1000, 384, [[0, [[0, 0.19791662693023682], [1, 0.8020833730697632]]], [1, [[3, 0.5937498807907104], [4, 0.40625011920928955]]], [192, [[500, 0.19790136814117432], [501, 0.8020986318588257]]], [383, [[998, 0.8020528554916382], [999, 0.19794714450836182]]]]],
  [17, 384, [[0, [[0, 1.0]]], [192, [[8, 0.9778648018836975], [9, 0.02213517762720585]]], [383, [[16, 1.0]]]]],
  [8000, 384, [[0, [[9, 0.08333301544189453], [10, 0.9166669845581055]]], [192, [[4009, 0.08321094512939453], [4010, 0.9167890548706055]]], [382, [[7968, 0.7497568130493164], [7969, 0.2502431869506836]]]]],
  [37, 56, [[1, [[0, 0.5089285969734192], [1, 0.4910714030265808]]], [28, [[18, 0.6696433424949646], [19, 0.3303566575050354]]], [54, [[35, 0.4910723567008972], [36, 0.5089276432991028]]], [55, [[36, 1.0]]]]],
];

test('bilinear weights equal torch\'s, bit for bit (upscale, downscale, clamped edges)', () => {
  for (const [inSize, outSize, samples] of TORCH_WEIGHTS) {
    const axis = bilinearAxis(inSize, outSize);
    for (const [dst, expected] of samples) {
      const weights = new Map<number, number>();
      const add = (src: number, w: number) => weights.set(src, Math.fround((weights.get(src) ?? 0) + w));
      add(axis.i0[dst] as number, axis.w0[dst] as number);
      add(axis.i1[dst] as number, axis.w1[dst] as number);
      const actual = [...weights].filter(([, w]) => w !== 0);
      expect(actual, `${inSize}→${outSize} at ${dst}`).toEqual(expected);
    }
  }
});

test('preprocess: the golden image → pixel_values within 1e-6; alpha is dropped; PNG in strips or tiles is identical', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.preprocessGolden()));
  expect(r.fromRgba.count).toBe(3 * 56 * 56);
  expect(r.fromRgba.mismatches, `max error ${r.fromRgba.maxAbsError}`).toBe(0);
  expect(r.pngStrips.maxAbsError).toBe(0);
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

test('blobs and bitmaps: PNG with alpha (also as an ImageBitmap), JPEG and WebP read as their stored RGB and encode', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.blobs()));
  expect(r.map((b) => b.kind)).toEqual(['ImageBitmap', 'png+alpha', 'image/jpeg', 'image/webp']);
  for (const b of r) {
    expect(b.width, b.kind).toBe(61);
    expect(b.preprocess.maxAbsError, b.kind).toBe(0);
    expect(b.indices.length, b.kind).toBe(16);
    for (const i of b.indices) expect(i >= 0 && i < 256, `${b.kind} index ${i}`).toBe(true);
  }
});

for (const [side, translucent] of [[4100, false], [2100, true]] as const) {
  const how = translucent ? 'translucent, read in 2×2 GPU tiles' : 'opaque, read in canvas strips';
  test(`a ${side}×${side} PNG (${how}) gives the same pixel_values as its raw RGBA`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate(([s, t]) => window.harness.tatok().then((p) => p.largeImage(s, t)), [side, translucent] as const);
    console.log(`${side}² ${translucent ? 'translucent' : 'opaque'} preprocess: raw ${r.rawMs.toFixed(0)} ms, PNG blob ${r.blobMs.toFixed(0)} ms`);
    expect(r.closeness.maxAbsError).toBe(0);
    expect(r.indices).toBe(4);
  });
}

test('typed errors: not an image, 0×0, oversize, short data, unknown scale, bad indices, NaN, abort; no pool leak', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.tatok().then((p) => p.errors()));
  const e = r.errors;
  for (const name of ['notImage', 'emptyRgba', 'emptyPng', 'wideRgba', 'tooManyPixels', 'widePng', 'closedBitmap', 'shortData', 'notAnImageObject', 'pixelCount', 'nanPixels', 'decodeCount', 'decodeIndex']) {
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
