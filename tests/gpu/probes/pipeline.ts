// Probes: the whole engine (src/pipeline/) on the tiny package against the torch end-to-end reference with
// fixed uniforms (tests/fixtures/goldens/pipeline.safetensors), plus determinism, cancellation, bad input,
// GPU memory over many jobs, previews, and the worker client. The in-thread engine shares the harness page's
// GPU context (onnxruntime-web binds to one device per page).
import { ArDetokenizer } from '../../../src/decoders/ardtok.ts';
import { LlmDecoder } from '../../../src/decoders/llm.ts';
import { InvalidArgumentError } from '../../../src/errors.ts';
import { logProbMean } from '../../../src/kernels/log-prob-mean.ts';
import { parseGoldens, type Goldens } from '../../../src/model/goldens.ts';
import { pooledGrid } from '../../../src/model/manifest.ts';
import { openUrlSource } from '../../../src/model/source.ts';
import { TatokDecoder, TatokEncoder, UNDERSTANDING_SCALE } from '../../../src/models/tatok.ts';
import { VqDecoder } from '../../../src/models/vqdecoder.ts';
import { Engine, type TarEngine } from '../../../src/pipeline/engine.ts';
import type { JobEvent, ProgressEvent, RgbaImage } from '../../../src/pipeline/events.ts';
import type { ImagineOptions } from '../../../src/pipeline/options.ts';
import { imageUniforms } from '../../../src/pipeline/uniforms.ts';
import { TarTokenizer } from '../../../src/tokenizer/tar-tokenizer.ts';
import { createWorkerEngine } from '../../../src/worker/client.ts';
import { compareArrays } from '../compare.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';
import { gpu } from './context.ts';

const PACKAGE = '/models/tiny/';

let shared: Promise<Engine> | null = null;
function engine(): Promise<Engine> {
  shared ??= gpu().then((ctx) => Engine.create({ model: PACKAGE, ctx }));
  return shared;
}

let golden: Promise<Goldens> | null = null;
function pipelineGoldens(): Promise<Goldens> {
  golden ??= fetch('/tests/fixtures/goldens/pipeline.safetensors')
    .then((r) => r.arrayBuffer())
    .then((b) => parseGoldens(b, 'pipeline.safetensors', 'pipeline'));
  return golden;
}

function values(g: Goldens, name: string): number[] {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`golden ${name} is missing`);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

function text(g: Goldens, name: string): string {
  return new TextDecoder().decode(Uint8Array.from(values(g, name)));
}

/** The golden RGB picture [h, w, 3] as RGBA. */
function goldenPicture(g: Goldens): RgbaImage {
  const t = g.tensors.get('understand.image_rgb');
  if (!t) throw new Error('golden understand.image_rgb is missing');
  const [height, width] = t.shape as [number, number, number];
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) data[i * 4 + c] = Number(t.data[i * 3 + c]);
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}

async function collect<E extends JobEvent>(events: AsyncIterable<E>): Promise<E[]> {
  const out: E[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** Worst relative error of each row of `actual` against `expected` rows [rows, width], with the golden
 *  runner's floor: |a − b| ≤ rtol·max(|b|, 1e-1·max|row|). */
function worstRowError(actual: Float32Array[], expected: number[], width: number): number {
  let worst = 0;
  actual.forEach((row, r) => {
    const want = expected.slice(r * width, (r + 1) * width);
    const scale = Math.max(1, ...want.map(Math.abs));
    for (let i = 0; i < width; i++) {
      const err = Math.abs((row[i] as number) - (want[i] as number)) / Math.max(Math.abs(want[i] as number), 0.1 * scale);
      worst = Math.max(worst, err);
    }
  });
  return worst;
}

export interface GoldenReport {
  tokens: number[];
  expectedTokens: number[];
  llmStepError: number;
  llmSteps: number;
  detokStepError: number;
  detokSteps: number;
  pixelMaxDiff: number;
  pixelsOffByOne: number;
  pixelCount: number;
  understandIndices: number[];
  expectedUnderstandIndices: number[];
  chatIds: number[];
  expectedChatIds: number[];
}

export async function pipelineGoldenProbe(): Promise<GoldenReport> {
  const g = await pipelineGoldens();
  const e = await engine();
  const ctx = await gpu();
  const events = await collect(
    e.imagine({
      prompt: text(g, 't2i.prompt'),
      scale: values(g, 't2i.pool_scale')[0] as number,
      temperature: values(g, 't2i.temperature')[0] as number,
      topK: values(g, 't2i.top_k')[0] as number,
      topP: values(g, 't2i.top_p')[0] as number,
      cfg: values(g, 'detok.cfg_scale')[0] as number,
      previewEveryRows: 0,
      uniforms: { llm: values(g, 't2i.uniforms'), detok: values(g, 'detok.uniforms') },
    }),
  );
  const image = events.find((ev) => ev.type === 'image');
  if (!image || image.type !== 'image') throw new Error('no image event');
  const expectedPixels = values(g, 'vq.image_uint8');
  const actualRgb: number[] = [];
  for (let i = 0; i < image.pixels.width * image.pixels.height; i++) {
    for (let c = 0; c < 3; c++) actualRgb.push(image.pixels.data[i * 4 + c] as number);
  }
  const diff = compareArrays(actualRgb, expectedPixels, 1, 0);
  const offByOne = actualRgb.filter((v, i) => v !== expectedPixels[i]).length;

  // Logits at every step, through the decoders' own KV-cache paths.
  const source = await openUrlSource(PACKAGE);
  const llm = await LlmDecoder.load(ctx, source);
  const detok = await ArDetokenizer.load(ctx, source);
  const tokenIds = values(g, 't2i.token_ids');
  const vocab = source.manifest.components.llm?.config.vocabSize ?? 0;
  const llmLogits = await llm.lastLogits([values(g, 't2i.prompt_ids'), ...tokenIds.slice(0, -1).map((id) => [id])]);
  const codes = values(g, 'detok.codes');
  const vqVocab = source.manifest.components.ardtok?.config.vocabSize ?? 0;
  const detokLogits = await detok.lastLogits(Float32Array.from(values(g, 't2i.features')), codes.slice(0, -1));
  await llm.release();
  await detok.release();

  const picture = goldenPicture(g);
  const chatEvents = await collect(
    e.chat({ messages: [{ role: 'user', text: 'Describe the image.', images: [picture] }], temperature: 0, repetitionPenalty: 1, maxNewTokens: values(g, 'chat.max_new_tokens')[0] as number }),
  );
  const encoder = await TatokEncoder.load(ctx, source);
  const understandIndices = Array.from(await encoder.encode(picture, 1));
  await encoder.release();
  return {
    tokens: Array.from(image.tokens),
    expectedTokens: values(g, 't2i.indices'),
    llmStepError: worstRowError(llmLogits, values(g, 't2i.logits'), vocab),
    llmSteps: llmLogits.length,
    detokStepError: worstRowError(detokLogits, values(g, 'detok.logits'), 2 * vqVocab),
    detokSteps: detokLogits.length,
    pixelMaxDiff: diff.maxAbsError,
    pixelsOffByOne: offByOne,
    pixelCount: expectedPixels.length,
    understandIndices,
    expectedUnderstandIndices: values(g, 'understand.indices'),
    chatIds: chatEvents.filter((ev) => ev.type === 'token').map((ev) => (ev.type === 'token' ? ev.id : -1)),
    expectedChatIds: values(g, 'chat.new_ids'),
  };
}

export interface ViewsGoldenReport {
  chatIds: number[];
  expectedChatIds: number[];
  viewIndices: number[];
  expectedViewIndices: number[];
  /** Each step's mean log-probabilities, combined on the GPU from the decoder's logits of every view, against
   *  torch's (worstRowError). */
  meanLogProbsError: number;
  steps: number;
  /** A conversation without pictures answers the same with 5 views as with 1 (it is read once). */
  textOnlySame: boolean;
}

/** Chat with test-time views against the torch reference: the engine's answer, TA-Tok's reading of each view, and
 *  the combined log-probabilities of every step. */
export async function pipelineViewsGoldenProbe(): Promise<ViewsGoldenReport> {
  const g = await pipelineGoldens();
  const e = await engine();
  const ctx = await gpu();
  const views = values(g, 'chat_views.views')[0] as number;
  const picture = goldenPicture(g);
  const question = 'Describe the image.';
  const events = await collect(
    e.chat({ messages: [{ role: 'user', text: question, images: [picture] }], temperature: 0, repetitionPenalty: 1, maxNewTokens: values(g, 'chat.max_new_tokens')[0] as number, views }),
  );
  const source = await openUrlSource(PACKAGE);
  const encoder = await TatokEncoder.load(ctx, source);
  const llm = await LlmDecoder.load(ctx, source);
  const tokenizer = await TarTokenizer.load(source);
  try {
    const seen = await encoder.encodeViews(picture, UNDERSTANDING_SCALE, views);
    const prompts = seen.map((read) => tokenizer.chatPrompt([{ role: 'user', text: question, images: [read] }]));
    const fed = values(g, 'chat_views.new_ids');
    const vocab = source.manifest.components.llm?.config.vocabSize ?? 0;
    const combined: Float32Array[] = [];
    for (let step = 0; step < fed.length; step++) {
      const rows = new Float32Array(views * vocab);
      for (const [v, prompt] of prompts.entries()) rows.set(((await llm.lastLogits([[...prompt, ...fed.slice(0, step)]])) as [Float32Array])[0], v * vocab);
      combined.push(await logProbMean(ctx, { rows: views, vocab }, rows));
    }
    const textOnly = async (n: number) =>
      (await collect(e.chat({ messages: [{ role: 'user', text: 'hello there' }], maxNewTokens: 4, seed: 2, views: n }))).find((ev) => ev.type === 'done');
    const [one, five] = [await textOnly(1), await textOnly(views)];
    return {
      chatIds: events.filter((ev) => ev.type === 'token').map((ev) => (ev.type === 'token' ? ev.id : -1)),
      expectedChatIds: fed,
      textOnlySame: one?.type === 'done' && five?.type === 'done' && one.text === five.text,
      viewIndices: seen.flatMap((read) => Array.from(read)),
      expectedViewIndices: values(g, 'chat_views.indices'),
      meanLogProbsError: worstRowError(combined, values(g, 'chat_views.mean_log_probs'), vocab),
      steps: combined.length,
    };
  } finally {
    await encoder.release();
    await llm.release();
  }
}

function firstImage(events: JobEvent[]): { tokens: number[]; pixels: number[] } {
  const image = events.find((ev) => ev.type === 'image');
  if (!image || image.type !== 'image') throw new Error('no image event');
  return { tokens: Array.from(image.tokens), pixels: Array.from(image.pixels.data) };
}

export async function pipelineSeedsProbe(): Promise<{ sameTokens: boolean; samePixels: boolean; otherSeedDiffers: boolean }> {
  const e = await engine();
  const run = async (seed: number) => firstImage(await collect(e.imagine({ prompt: 'a red circle', scale: 3, seed, previewEveryRows: 0 })));
  const a = await run(7);
  const b = await run(7);
  const c = await run(8);
  const equal = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return {
    sameTokens: equal(a.tokens, b.tokens),
    samePixels: equal(a.pixels, b.pixels),
    otherSeedDiffers: !equal(a.tokens, c.tokens) || !equal(a.pixels, c.pixels),
  };
}

export interface GuidanceReport {
  /** promptCfg 1 given explicitly draws what the tiny package's default (no cfgScale: 1) draws. */
  explicitOneSameAsDefault: boolean;
  guidedDiffers: boolean;
  guidedReproducible: boolean;
  negativePromptDiffers: boolean;
}

export async function pipelineGuidanceProbe(): Promise<GuidanceReport> {
  const e = await engine();
  const run = async (extra: Partial<ImagineOptions>) =>
    firstImage(await collect(e.imagine({ prompt: 'a red circle', scale: 3, seed: 7, previewEveryRows: 0, ...extra }))).tokens;
  const equal = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  const plain = await run({});
  const guided = await run({ promptCfg: 3 });
  return {
    explicitOneSameAsDefault: equal(await run({ promptCfg: 1 }), plain),
    guidedDiffers: !equal(guided, plain),
    guidedReproducible: equal(await run({ promptCfg: 3 }), guided),
    negativePromptDiffers: !equal(await run({ promptCfg: 3, negativePrompt: 'a blue square' }), guided),
  };
}

export interface SelfCheckReport {
  images: number;
  /** Per image: the reported scores, the kept candidate, and the argmax of the scores (first of equals). */
  reported: { scores: number[]; candidate: number; argmax: number }[];
  /** Per image: the kept picture's score computed here, outside the engine (encoder → tokenizer → answerLogProb). */
  rescoredKept: number[];
  /** Per image: the score of the picture a plain one-candidate job draws for that image (candidate 0's streams). */
  rescoredPlain: number[];
  selfCheckProgress: number;
  inUseBefore: number;
  inUseAfter: number;
}

export async function pipelineSelfCheckProbe(candidates: number): Promise<SelfCheckReport> {
  const e = await engine();
  const options = { prompt: 'a red circle', scale: 3, seed: 7, count: 2, previewEveryRows: 0 };
  const inUseBefore = (await e.bufferStats()).inUseBytes;
  const events = await collect(e.imagine({ ...options, candidates }));
  const inUseAfter = (await e.bufferStats()).inUseBytes;
  const plain = (await collect(e.imagine(options))).filter((ev) => ev.type === 'image');
  const kept = events.filter((ev) => ev.type === 'image');
  const ctx = await gpu();
  const source = await openUrlSource(PACKAGE);
  const encoder = await TatokEncoder.load(ctx, source);
  const llm = await LlmDecoder.load(ctx, source);
  const tokenizer = await TarTokenizer.load(source);
  const question = source.manifest.sampling.textToImage.selfCheckQuestion as string;
  const rescore = async (pixels: RgbaImage) => {
    const picture = await encoder.encode(pixels, UNDERSTANDING_SCALE);
    return llm.answerLogProb(tokenizer.chatPrompt([{ role: 'user', text: question, images: [picture] }]), tokenizer.answerIds(options.prompt));
  };
  try {
    return {
      images: kept.length,
      reported: kept.map((ev) => {
        const scores = ev.selfCheck?.scores ?? [];
        return { scores, candidate: ev.selfCheck?.candidate ?? -1, argmax: scores.indexOf(Math.max(...scores)) };
      }),
      rescoredKept: await Promise.all(kept.map((ev) => rescore(ev.pixels))),
      rescoredPlain: await Promise.all(plain.map((ev) => rescore(ev.pixels))),
      selfCheckProgress: events.filter((ev) => ev.type === 'progress' && ev.phase === 'self-check').length,
      inUseBefore,
      inUseAfter,
    };
  } finally {
    await encoder.release();
    await llm.release();
  }
}

export interface RoundTripReport {
  /** The reported agreements, the kept drawing, and the argmax of the agreements (first of equals). */
  agreements: number[];
  drawing: number;
  argmax: number;
  /** The kept picture read back here (encoder at the tokens' scale) against the returned tokens. */
  rereadKept: number;
  /** Each drawing redrawn here (TA-Tok decoder → de-tokenizer with drawing d's stream → VQ decoder), read back. */
  redrawnAgreements: number[];
  keptIsRedrawn: boolean;
  /** Drawings 0 and 1 are different pictures (their own streams). */
  drawingsDiffer: boolean;
  /** A plain one-drawing job: the same tokens, drawing 0's picture, no roundTrip field. */
  plainSameTokens: boolean;
  plainIsDrawing0: boolean;
  plainHasRoundTrip: boolean;
  roundTripProgress: number;
  roundTripMs: number;
  /** candidates 2 × drawings 2: each candidate's drawings read back, the self-check scoring the kept ones. */
  withSelfCheck: { agreements: number; scores: number; roundTripProgress: number };
  inUseBefore: number;
  inUseAfter: number;
}

export async function pipelineRoundTripProbe(drawings: number): Promise<RoundTripReport> {
  const e = await engine();
  const options = { prompt: 'a red circle', scale: 3, seed: 7, previewEveryRows: 0 };
  const inUseBefore = (await e.bufferStats()).inUseBytes;
  const events = await collect(e.imagine({ ...options, drawings }));
  const inUseAfter = (await e.bufferStats()).inUseBytes;
  const kept = events.find((ev) => ev.type === 'image');
  const plain = (await collect(e.imagine(options))).find((ev) => ev.type === 'image');
  if (kept?.type !== 'image' || plain?.type !== 'image') throw new Error('no image event');
  const both = await collect(e.imagine({ ...options, candidates: 2, drawings: 2 }));
  const checked = both.find((ev) => ev.type === 'image');
  const done = events.find((ev) => ev.type === 'done');
  const ctx = await gpu();
  const source = await openUrlSource(PACKAGE);
  const encoder = await TatokEncoder.load(ctx, source);
  const tatok = await TatokDecoder.load(ctx, source);
  const detok = await ArDetokenizer.load(ctx, source);
  const vq = await VqDecoder.load(ctx, source);
  const agreement = async (pixels: RgbaImage, tokens: Uint32Array) =>
    (await encoder.encode(pixels, options.scale)).reduce((n, index, i) => (index === tokens[i] ? n + 1 : n), 0);
  const same = (a: RgbaImage, b: RgbaImage) => a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]);
  try {
    const { cfgScale, temperature, topK, topP } = source.manifest.sampling.detokenizer;
    const features = await tatok.decode(kept.tokens, options.scale);
    const redrawn: RgbaImage[] = [];
    for (let d = 0; d < drawings; d++) {
      const codes = await detok.generate(features, detok.gridSize ** 2, { cfgScale, temperature, topK, topP }, imageUniforms(options.seed, 0, 0, d).detok);
      redrawn.push(await vq.decode(codes, detok.gridSize));
    }
    const agreements = kept.roundTrip?.agreements ?? [];
    const drawing = kept.roundTrip?.drawing ?? -1;
    return {
      agreements,
      drawing,
      argmax: agreements.indexOf(Math.max(...agreements)),
      rereadKept: await agreement(kept.pixels, kept.tokens),
      redrawnAgreements: await Promise.all(redrawn.map((pixels) => agreement(pixels, kept.tokens))),
      keptIsRedrawn: redrawn[drawing] !== undefined && same(kept.pixels, redrawn[drawing]),
      drawingsDiffer: !same(redrawn[0] as RgbaImage, redrawn[1] as RgbaImage),
      plainSameTokens: plain.tokens.length === kept.tokens.length && plain.tokens.every((t, i) => t === kept.tokens[i]),
      plainIsDrawing0: same(plain.pixels, redrawn[0] as RgbaImage),
      plainHasRoundTrip: 'roundTrip' in plain,
      roundTripProgress: events.filter((ev) => ev.type === 'progress' && ev.phase === 'round-trip').length,
      roundTripMs: done?.type === 'done' ? (done.timings['round-trip'] ?? 0) : 0,
      withSelfCheck: {
        agreements: checked?.type === 'image' ? (checked.roundTrip?.agreements.length ?? 0) : 0,
        scores: checked?.type === 'image' ? (checked.selfCheck?.scores.length ?? 0) : 0,
        roundTripProgress: both.filter((ev) => ev.type === 'progress' && ev.phase === 'round-trip').length,
      },
      inUseBefore,
      inUseAfter,
    };
  } finally {
    await encoder.release();
    await tatok.release();
    await detok.release();
    await vq.dispose();
  }
}

export interface CancelReport {
  error: ThrownError | null;
  llmEventsAfterAbort: number;
  inUseBefore: number;
  inUseAfter: number;
  nextJobImages: number;
}

/** Runs `job`, aborts it at the first progress event `abortAt` accepts, counts the LLM progress events that still
 *  arrive, then checks that the pool is back where it was and that `nextJob` draws its image. */
async function cancelImagine(job: ImagineOptions, abortAt: (event: ProgressEvent) => boolean, nextJob: ImagineOptions): Promise<CancelReport> {
  const e = await engine();
  const inUseBefore = (await e.bufferStats()).inUseBytes;
  const controller = new AbortController();
  let aborted = false;
  let llmEventsAfterAbort = 0;
  const error = await describeErrorForTest(async () => {
    for await (const event of e.imagine({ ...job, signal: controller.signal })) {
      if (event.type !== 'progress') continue;
      if (aborted) {
        if (event.phase === 'llm') llmEventsAfterAbort++;
      } else if (abortAt(event)) {
        aborted = true;
        controller.abort();
      }
    }
  });
  const inUseAfter = (await e.bufferStats()).inUseBytes;
  const next = await collect(e.imagine(nextJob));
  return { error, llmEventsAfterAbort, inUseBefore, inUseAfter, nextJobImages: next.filter((ev) => ev.type === 'image').length };
}

/** Cancels a job at its third image token. */
export function pipelineCancelProbe(): Promise<CancelReport> {
  return cancelImagine(
    { prompt: 'a blue square', scale: 1, seed: 1 },
    (event) => event.phase === 'llm' && event.done === 3,
    { prompt: 'a blue square', scale: 3, seed: 1, previewEveryRows: 0 },
  );
}

/** Cancels a self-checked job once its first candidate has been read back. */
export function pipelineSelfCheckCancelProbe(): Promise<CancelReport> {
  return cancelImagine(
    { prompt: 'a green star', scale: 3, seed: 5, candidates: 3, previewEveryRows: 0 },
    (event) => event.phase === 'self-check',
    { prompt: 'a green star', scale: 3, seed: 5, candidates: 2, previewEveryRows: 0 },
  );
}

/** Cancels a job of three drawings once its first drawing has been read back. */
export function pipelineRoundTripCancelProbe(): Promise<CancelReport> {
  return cancelImagine(
    { prompt: 'a green star', scale: 3, seed: 5, drawings: 3, previewEveryRows: 0 },
    (event) => event.phase === 'round-trip',
    { prompt: 'a green star', scale: 3, seed: 5, drawings: 2, previewEveryRows: 0 },
  );
}

export interface BadInputReport {
  errors: Record<string, ThrownError | null>;
  servedAfter: boolean;
}

/** The longest prompt of repeated words whose scale-3 image still fits the context (a picture read back at the
 *  understanding scale holds more tokens, so its self-check does not). */
async function longestScale3Prompt(context: number): Promise<string> {
  const source = await openUrlSource(PACKAGE);
  const tokenizer = await TarTokenizer.load(source);
  const imageTokens = pooledGrid(source.manifest.components.tatok!.config, 3) ** 2;
  let words = 1;
  while (tokenizer.textToImagePrompt('a '.repeat(words + 1), 2).length + imageTokens <= context) words++;
  return 'a '.repeat(words);
}

export async function pipelineBadInputProbe(): Promise<BadInputReport> {
  const e = await engine();
  const run = (events: AsyncIterable<JobEvent>) => describeErrorForTest(() => collect(events));
  const notAnImage = new Blob([new TextEncoder().encode('this is not an image')], { type: 'image/png' });
  const empty = { width: 0, height: 0, data: new Uint8ClampedArray(0) };
  const huge = { width: 40000, height: 40000, data: new Uint8ClampedArray(0) };
  const context = e.info.manifest.components.llm?.config.maxPositionEmbeddings ?? 0;
  const errors = {
    notAnImage: await run(e.chat({ messages: [{ role: 'user', text: 'what is it?', images: [notAnImage] }] })),
    emptyImage: await run(e.vary({ image: empty })),
    hugeImage: await run(e.vary({ image: huge })),
    emptyPrompt: await run(e.imagine({ prompt: '   ' })),
    longPrompt: await run(e.imagine({ prompt: 'a '.repeat(context + 10) })),
    unknownScale: await run(e.imagine({ prompt: 'a cat', scale: 5 })),
    unknownSize: await run(e.imagine({ prompt: 'a cat', size: 1000 })),
    badTopP: await run(e.imagine({ prompt: 'a cat', topP: 0 })),
    badPromptCfg: await run(e.imagine({ prompt: 'a cat', promptCfg: -1 })),
    longNegativePrompt: await run(e.imagine({ prompt: 'a cat', promptCfg: 2, negativePrompt: 'a '.repeat(context + 10) })),
    noCandidates: await run(e.imagine({ prompt: 'a cat', candidates: 0 })),
    tooManyCandidates: await run(e.imagine({ prompt: 'a cat', candidates: 17 })),
    candidatesWithUniforms: await run(e.imagine({ prompt: 'a cat', candidates: 2, uniforms: { llm: [0.5], detok: [0.5] } })),
    noDrawings: await run(e.imagine({ prompt: 'a cat', drawings: 0 })),
    tooManyDrawings: await run(e.imagine({ prompt: 'a cat', drawings: 17 })),
    drawingsWithUniforms: await run(e.imagine({ prompt: 'a cat', drawings: 2, uniforms: { llm: [0.5], detok: [0.5] } })),
    selfCheckPastContext: await run(e.imagine({ prompt: await longestScale3Prompt(context), scale: 3, candidates: 2 })),
    noViews: await run(e.chat({ messages: [{ role: 'user', text: 'what is it?' }], views: 0 })),
    tooManyViews: await run(e.chat({ messages: [{ role: 'user', text: 'what is it?' }], views: 10 })),
  };
  const served = await collect(e.chat({ messages: [{ role: 'user', text: 'hello' }], maxNewTokens: 2, seed: 1 }));
  return { errors, servedAfter: served.some((ev) => ev.type === 'done') };
}

export async function pipelineManyJobsProbe(jobs: number): Promise<{ allocated: number[]; inUse: number[] }> {
  const e = await engine();
  const allocated: number[] = [];
  const inUse: number[] = [];
  for (let i = 0; i < jobs; i++) {
    if (i % 5 === 4) await collect(e.imagine({ prompt: 'a green star', scale: 3, seed: i, previewEveryRows: 0 }));
    else await collect(e.chat({ messages: [{ role: 'user', text: `question ${i}` }], maxNewTokens: 3, seed: i }));
    const stats = await e.bufferStats();
    allocated.push(stats.allocatedBytes);
    inUse.push(stats.inUseBytes);
  }
  return { allocated, inUse };
}

export interface StreamReport {
  images: { image: number; seed: number; width: number; height: number }[];
  previews: number[];
  phases: string[];
  timings: Record<string, number>;
  tokensStreamed: number;
  chatText: string;
}

export async function pipelineStreamProbe(): Promise<StreamReport> {
  const e = await engine();
  const events = await collect(e.imagine({ prompt: 'two shapes', scale: 2, seed: 11, count: 2, previewEveryRows: 1 }));
  const previews = [0, 0];
  const images: StreamReport['images'] = [];
  const phases = new Set<string>();
  let timings: Record<string, number> = {};
  for (const ev of events) {
    if (ev.type === 'preview') previews[ev.image] = (previews[ev.image] ?? 0) + 1;
    if (ev.type === 'image') images.push({ image: ev.image, seed: ev.seed, width: ev.pixels.width, height: ev.pixels.height });
    if (ev.type === 'progress') phases.add(ev.phase);
    if (ev.type === 'done') timings = ev.timings as Record<string, number>;
  }
  const chat = await collect(e.chat({ messages: [{ role: 'user', text: 'say something' }], maxNewTokens: 6, seed: 3 }));
  const done = chat.find((ev) => ev.type === 'done');
  return {
    images,
    previews,
    phases: [...phases],
    timings,
    tokensStreamed: chat.filter((ev) => ev.type === 'token').length,
    chatText: done?.type === 'done' ? (done.text ?? '') : '',
  };
}

export interface WorkerReport {
  imageSize: [number, number];
  typedError: { name: string; isInvalidArgument: boolean; message: string } | null;
  cancelled: ThrownError | null;
  afterCancel: number;
}

/** How long one step of the worker probe may take before it fails naming the step (the whole probe takes under
 *  a minute on SwiftShader): a stalled worker then says where it stalled instead of running out the test's time. */
const WORKER_STEP_DEADLINE_MS = 180_000;

async function withinDeadline<T>(step: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    const message = `worker probe: "${step}" did not finish in ${WORKER_STEP_DEADLINE_MS / 1000} s`;
    timer = setTimeout(() => reject(new Error(message)), WORKER_STEP_DEADLINE_MS);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

export async function pipelineWorkerProbe(): Promise<WorkerReport> {
  const worker: TarEngine = await withinDeadline('start', createWorkerEngine({ model: { url: PACKAGE } }));
  try {
    const drawing = worker.imagine({ prompt: 'a red circle', scale: 3, seed: 2, previewEveryRows: 0 });
    const image = firstImageEvent(await withinDeadline('imagine', collect(drawing)));
    let typedError: WorkerReport['typedError'] = null;
    try {
      await withinDeadline('empty prompt', collect(worker.imagine({ prompt: '' })));
    } catch (error) {
      const e = error as Error;
      typedError = { name: e.name, isInvalidArgument: error instanceof InvalidArgumentError, message: e.message };
    }
    const controller = new AbortController();
    const cancelled = await withinDeadline(
      'cancel',
      describeErrorForTest(async () => {
        const job = worker.imagine({ prompt: 'a blue square', scale: 1, seed: 4, signal: controller.signal });
        for await (const event of job) {
          if (event.type === 'progress' && event.phase === 'llm' && event.done === 2) controller.abort();
        }
      }),
    );
    const chat = worker.chat({ messages: [{ role: 'user', text: 'hi' }], maxNewTokens: 2, seed: 1 });
    const after = await withinDeadline('chat after cancel', collect(chat));
    return { imageSize: [image.width, image.height], typedError, cancelled, afterCancel: after.length };
  } finally {
    await withinDeadline('dispose', worker.dispose());
  }
}

/** Starts a worker engine whose script the test has made fail; describes what `createWorkerEngine` threw. */
export function pipelineWorkerStartFailureProbe(): Promise<ThrownError | null> {
  return describeErrorForTest(() => createWorkerEngine({ model: { url: PACKAGE } }));
}

function firstImageEvent(events: JobEvent[]): RgbaImage {
  const image = events.find((ev) => ev.type === 'image');
  if (!image || image.type !== 'image') throw new Error('no image event');
  return image.pixels;
}

export const pipelineProbes = {
  golden: pipelineGoldenProbe,
  viewsGolden: pipelineViewsGoldenProbe,
  seeds: pipelineSeedsProbe,
  guidance: pipelineGuidanceProbe,
  selfCheck: pipelineSelfCheckProbe,
  selfCheckCancel: pipelineSelfCheckCancelProbe,
  roundTrip: pipelineRoundTripProbe,
  roundTripCancel: pipelineRoundTripCancelProbe,
  cancel: pipelineCancelProbe,
  badInput: pipelineBadInputProbe,
  manyJobs: pipelineManyJobsProbe,
  stream: pipelineStreamProbe,
  worker: pipelineWorkerProbe,
  workerStartFailure: pipelineWorkerStartFailureProbe,
};
