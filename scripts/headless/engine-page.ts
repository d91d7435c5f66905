// The page behind `npm run imagine`, `npm run chat` and `npm run eval:shapes`: it runs jobs on the real engine
// worker and hands back the results (PNG bytes, text) and the per-phase timings. `imagine` and `chat` load the
// model for one job; `session` keeps one engine loaded across many jobs. Not a UI.
import type { TarEngine } from '../../src/pipeline/engine.ts';
import type { PhaseTimings, RgbaImage } from '../../src/pipeline/events.ts';
import type { ImagineOptions } from '../../src/pipeline/options.ts';
import { createWorkerEngine } from '../../src/worker/client.ts';

export type HeadlessImagineOptions = Omit<ImagineOptions, 'signal' | 'uniforms'>;

export interface HeadlessImagine {
  model: string;
  options: HeadlessImagineOptions;
}

export interface HeadlessChatTurn {
  question: string;
  image?: { bytes: number[]; type: string };
  maxNewTokens?: number;
  temperature?: number;
  repetitionPenalty?: number;
  seed?: number;
  /** Test-time views of the picture (default: the manifest's). */
  views?: number;
}

export interface HeadlessChat extends HeadlessChatTurn {
  model: string;
}

export interface HeadlessResult {
  /** tokens: the TA-Tok codebook indices the LLM drew for the image; selfCheck: with candidates > 1, the kept one
   *  and every candidate's score; roundTrip: with drawings > 1, the kept drawing and every drawing's agreement. */
  images: {
    png: number[];
    width: number;
    height: number;
    seed: number;
    tokens: number[];
    selfCheck?: { candidate: number; scores: number[] };
    roundTrip?: { drawing: number; agreements: number[] };
  }[];
  previews: number;
  text?: string;
  timings: PhaseTimings;
  loadMs: number;
  elapsedMs: number;
}

async function toPng(pixels: RgbaImage): Promise<number[]> {
  const canvas = new OffscreenCanvas(pixels.width, pixels.height);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2d context');
  context.putImageData(new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height), 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return Array.from(new Uint8Array(await blob.arrayBuffer()));
}

async function load(model: string): Promise<{ engine: TarEngine; loadMs: number }> {
  const loadStart = performance.now();
  const engine = await createWorkerEngine({ model: { url: model } });
  return { engine, loadMs: performance.now() - loadStart };
}

async function runImagine(engine: TarEngine, options: HeadlessImagineOptions, loadMs: number): Promise<HeadlessResult> {
  const result: HeadlessResult = { images: [], previews: 0, timings: {}, loadMs, elapsedMs: 0 };
  for await (const event of engine.imagine(options)) {
    if (event.type === 'preview') result.previews++;
    if (event.type === 'image') {
      result.images.push({
        png: await toPng(event.pixels),
        width: event.pixels.width,
        height: event.pixels.height,
        seed: event.seed,
        tokens: Array.from(event.tokens),
        ...(event.selfCheck ? { selfCheck: event.selfCheck } : {}),
        ...(event.roundTrip ? { roundTrip: event.roundTrip } : {}),
      });
    }
    if (event.type === 'done') {
      result.timings = event.timings;
      result.elapsedMs = event.elapsedMs;
    }
  }
  return result;
}

async function runChat(engine: TarEngine, turn: HeadlessChatTurn, loadMs: number): Promise<HeadlessResult> {
  const result: HeadlessResult = { images: [], previews: 0, timings: {}, loadMs, elapsedMs: 0, text: '' };
  const images = turn.image ? [new Blob([new Uint8Array(turn.image.bytes)], { type: turn.image.type })] : [];
  const events = engine.chat({
    messages: [{ role: 'user', text: turn.question, images }],
    ...(turn.maxNewTokens !== undefined ? { maxNewTokens: turn.maxNewTokens } : {}),
    ...(turn.temperature !== undefined ? { temperature: turn.temperature } : {}),
    ...(turn.repetitionPenalty !== undefined ? { repetitionPenalty: turn.repetitionPenalty } : {}),
    ...(turn.seed !== undefined ? { seed: turn.seed } : {}),
    ...(turn.views !== undefined ? { views: turn.views } : {}),
  });
  for await (const event of events) {
    if (event.type === 'done') {
      result.text = event.text ?? '';
      result.timings = event.timings;
      result.elapsedMs = event.elapsedMs;
    }
  }
  return result;
}

async function imagine(request: HeadlessImagine): Promise<HeadlessResult> {
  const { engine, loadMs } = await load(request.model);
  try {
    return await runImagine(engine, request.options, loadMs);
  } finally {
    await engine.dispose();
  }
}

async function chat(request: HeadlessChat): Promise<HeadlessResult> {
  const { model, ...turn } = request;
  const { engine, loadMs } = await load(model);
  try {
    return await runChat(engine, turn, loadMs);
  } finally {
    await engine.dispose();
  }
}

/** One engine kept loaded between calls: open, any number of jobs (loadMs 0), close. */
let open: TarEngine | undefined;

function opened(): TarEngine {
  if (!open) throw new Error('no engine open: call session.open(model) first');
  return open;
}

const session = {
  async open(model: string): Promise<{ loadMs: number; modelId: string }> {
    if (open) throw new Error('an engine is already open');
    const loaded = await load(model);
    open = loaded.engine;
    return { loadMs: loaded.loadMs, modelId: open.info.modelId };
  },
  imagine: (options: HeadlessImagineOptions) => runImagine(opened(), options, 0),
  chat: (turn: HeadlessChatTurn) => runChat(opened(), turn, 0),
  async close(): Promise<void> {
    const engine = open;
    open = undefined;
    await engine?.dispose();
  },
};

const headless = { imagine, chat, session };

declare global {
  interface Window {
    tarHeadless: typeof headless;
  }
}

window.tarHeadless = headless;
document.body.dataset.ready = 'true';
