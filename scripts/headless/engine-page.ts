// The page behind `npm run imagine` and `npm run chat`: it runs one job on the real engine worker and hands
// back the result (PNG bytes, text) and the per-phase timings. Not a UI.
import type { PhaseTimings, RgbaImage } from '../../src/pipeline/events.ts';
import type { ImagineOptions } from '../../src/pipeline/options.ts';
import { createWorkerEngine } from '../../src/worker/client.ts';

export interface HeadlessImagine {
  model: string;
  options: Omit<ImagineOptions, 'signal' | 'uniforms'>;
}

export interface HeadlessChat {
  model: string;
  question: string;
  image?: { bytes: number[]; type: string };
  maxNewTokens?: number;
  temperature?: number;
  seed?: number;
}

export interface HeadlessResult {
  images: { png: number[]; width: number; height: number; seed: number }[];
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

async function imagine(request: HeadlessImagine): Promise<HeadlessResult> {
  const loadStart = performance.now();
  const engine = await createWorkerEngine({ model: { url: request.model } });
  const loadMs = performance.now() - loadStart;
  const result: HeadlessResult = { images: [], previews: 0, timings: {}, loadMs, elapsedMs: 0 };
  try {
    for await (const event of engine.imagine(request.options)) {
      if (event.type === 'preview') result.previews++;
      if (event.type === 'image') {
        result.images.push({ png: await toPng(event.pixels), width: event.pixels.width, height: event.pixels.height, seed: event.seed });
      }
      if (event.type === 'done') {
        result.timings = event.timings;
        result.elapsedMs = event.elapsedMs;
      }
    }
  } finally {
    await engine.dispose();
  }
  return result;
}

async function chat(request: HeadlessChat): Promise<HeadlessResult> {
  const loadStart = performance.now();
  const engine = await createWorkerEngine({ model: { url: request.model } });
  const loadMs = performance.now() - loadStart;
  const result: HeadlessResult = { images: [], previews: 0, timings: {}, loadMs, elapsedMs: 0, text: '' };
  const images = request.image ? [new Blob([new Uint8Array(request.image.bytes)], { type: request.image.type })] : [];
  try {
    const events = engine.chat({
      messages: [{ role: 'user', text: request.question, images }],
      ...(request.maxNewTokens !== undefined ? { maxNewTokens: request.maxNewTokens } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
    });
    for await (const event of events) {
      if (event.type === 'done') {
        result.text = event.text ?? '';
        result.timings = event.timings;
        result.elapsedMs = event.elapsedMs;
      }
    }
  } finally {
    await engine.dispose();
  }
  return result;
}

const headless = { imagine, chat };

declare global {
  interface Window {
    tarHeadless: typeof headless;
  }
}

window.tarHeadless = headless;
document.body.dataset.ready = 'true';
