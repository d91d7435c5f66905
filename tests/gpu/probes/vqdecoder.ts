// Probe: VqDecoder (src/models/vqdecoder.ts) on the tiny package against the torch goldens
// (tests/fixtures/goldens/vq.safetensors): full grids, the 'small' size, the pipeline golden's codes, previews,
// typed errors.
import { parseGoldens } from '../../../src/model/goldens.ts';
import type { SafeTensor } from '../../../src/model/safetensors.ts';
import { openUrlSource } from '../../../src/model/source.ts';
import { fillPreviewCodes, VqDecoder, type RgbaImage } from '../../../src/models/vqdecoder.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';
import { gpu } from './context.ts';

const PACKAGE = '/models/tiny/';
const GOLDENS = '/tests/fixtures/goldens/vq.safetensors';

let decoder: Promise<VqDecoder> | null = null;

function loadDecoder(): Promise<VqDecoder> {
  decoder ??= gpu().then(async (ctx) => VqDecoder.load(ctx, await openUrlSource(PACKAGE)));
  return decoder;
}

async function goldens(): Promise<Map<string, SafeTensor>> {
  const response = await fetch(GOLDENS);
  if (!response.ok) throw new Error(`GET ${GOLDENS} → ${response.status}`);
  return parseGoldens(await response.arrayBuffer(), GOLDENS, 'vq').tensors;
}

function tensor(tensors: Map<string, SafeTensor>, name: string): SafeTensor {
  const t = tensors.get(name);
  if (!t) throw new Error(`vq goldens lack ${name}`);
  return t;
}

export interface PixelComparison {
  width: number;
  height: number;
  /** RGB values that differ from the golden, and the largest difference. */
  differing: number;
  maxDiff: number;
  /** Pixels whose alpha is not 255. */
  badAlpha: number;
  count: number;
  ms: number;
}

/** image vs expected HWC uint8 (3 channels). */
function comparePixels(image: RgbaImage, expected: ArrayLike<number>, ms: number): PixelComparison {
  let differing = 0;
  let maxDiff = 0;
  let badAlpha = 0;
  const pixels = image.width * image.height;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const d = Math.abs((image.data[p * 4 + c] as number) - (expected[p * 3 + c] as number));
      if (d > 0) differing++;
      maxDiff = Math.max(maxDiff, d);
    }
    if (image.data[p * 4 + 3] !== 255) badAlpha++;
  }
  return { width: image.width, height: image.height, differing, maxDiff, badAlpha, count: pixels * 3, ms };
}

/** Tar's post-processing in f32 steps, on a golden float image [1,3,H,W] → HWC uint8. */
function postprocess(image: SafeTensor): Uint8Array {
  const [, , h, w] = image.shape as [number, number, number, number];
  const data = image.data as Float32Array;
  const out = new Uint8Array(h * w * 3);
  for (let c = 0; c < 3; c++)
    for (let p = 0; p < h * w; p++) {
      const v = Math.min(1, Math.max(0, Math.fround(Math.fround((data[c * h * w + p] as number) * 0.5) + 0.5)));
      out[p * 3 + c] = Math.trunc(Math.fround(v * 255));
    }
  return out;
}

async function timedDecode(codes: Uint32Array, side: number, known?: number): Promise<{ image: RgbaImage; ms: number }> {
  const vq = await loadDecoder();
  const start = performance.now();
  const image = await vq.decode(codes, side, known);
  return { image, ms: performance.now() - start };
}

/** Each batch row of `input.codes` [B,4,4] against `output.image_uint8` [B,H,W,3]. */
async function vqGoldenProbe(): Promise<PixelComparison[]> {
  const t = await goldens();
  const codes = tensor(t, 'input.codes');
  const expected = tensor(t, 'output.image_uint8');
  const [batch, side] = codes.shape as [number, number, number];
  const [, h, w] = expected.shape as [number, number, number, number];
  const results: PixelComparison[] = [];
  for (let b = 0; b < batch; b++) {
    const row = Uint32Array.from((codes.data as BigInt64Array).subarray(b * side * side, (b + 1) * side * side), Number);
    const { image, ms } = await timedDecode(row, side);
    results.push(comparePixels(image, (expected.data as Uint8Array).subarray(b * h * w * 3, (b + 1) * h * w * 3), ms));
  }
  return results;
}

/** `small.input.codes` [1,2,2] against `small.output.image` post-processed. */
async function vqSmallProbe(): Promise<PixelComparison> {
  const t = await goldens();
  const codes = tensor(t, 'small.input.codes');
  const side = codes.shape[1] as number;
  const { image, ms } = await timedDecode(Uint32Array.from(codes.data as BigInt64Array, Number), side);
  return comparePixels(image, postprocess(tensor(t, 'small.output.image')), ms);
}

/** The pipeline golden's last step: `detok.codes` → `vq.image_uint8` (tests/fixtures/goldens/pipeline.safetensors). */
async function vqPipelineProbe(): Promise<PixelComparison> {
  const url = '/tests/fixtures/goldens/pipeline.safetensors';
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} → ${response.status}`);
  const t = parseGoldens(await response.arrayBuffer(), url, 'pipeline').tensors;
  const codes = Uint32Array.from(tensor(t, 'detok.codes').data as BigInt64Array, Number);
  const { image, ms } = await timedDecode(codes, Math.round(Math.sqrt(codes.length)));
  return comparePixels(image, tensor(t, 'vq.image_uint8').data as Uint8Array, ms);
}

export interface PreviewReport {
  filled: number[];
  /** Preview decode vs a full decode of `filled`: differing bytes. */
  differingBytes: number;
  width: number;
  /** Same preview from only the known codes (a shorter array). */
  shortDifferingBytes: number;
}

/** A preview of the 'small' codes [1,2,2] with `known` of them. */
async function vqPreviewProbe(known: number): Promise<PreviewReport> {
  const small = tensor(await goldens(), 'small.input.codes');
  const side = small.shape[1] as number;
  const codes = Uint32Array.from(small.data as BigInt64Array, Number);
  const filled = fillPreviewCodes(codes, side, known);
  const preview = (await timedDecode(codes, side, known)).image;
  const short = (await timedDecode(codes.slice(0, known), side, known)).image;
  const full = (await timedDecode(filled, side)).image;
  const diff = (a: RgbaImage) => a.data.reduce((n, v, i) => n + (v !== full.data[i] ? 1 : 0), 0);
  return { filled: Array.from(filled), differingBytes: diff(preview), width: preview.width, shortDifferingBytes: diff(short) };
}

/** What decode throws for these arguments (null when it does not). */
async function vqErrorProbe(codes: number[], side: number, known?: number): Promise<ThrownError | null> {
  const vq = await loadDecoder();
  return describeErrorForTest(() => vq.decode(Uint32Array.from(codes), side, known));
}

/** fillPreviewCodes alone (pure). */
function vqFillProbe(codes: number[], side: number, known: number): number[] {
  return Array.from(fillPreviewCodes(Uint32Array.from(codes), side, known));
}

export const vqDecoderProbes = { vqGolden: vqGoldenProbe, vqSmall: vqSmallProbe, vqPipeline: vqPipelineProbe, vqPreview: vqPreviewProbe, vqError: vqErrorProbe, vqFill: vqFillProbe };
