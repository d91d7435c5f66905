// The engine: loads a model package onto one GPU and runs the three jobs — imagine (text → images), chat
// (images + text → streamed text) and vary (image → tokens → image) — as streams of events, one job at a
// time (queue.ts), each cancellable within one token. It runs wherever it is created; src/worker/ puts it in
// a worker behind the same interface. It does not draw any UI.
import { ArDetokenizer, type DetokSampling } from '../decoders/ardtok.ts';
import { LlmDecoder, type ImageSampling } from '../decoders/llm.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { PoolStats } from '../gpu/buffer-pool.ts';
import { GpuContext } from '../gpu/context.ts';
import type { GpuDeviceInfo } from '../gpu/device.ts';
import { NO_GUIDANCE, type ComponentName, type Manifest } from '../model/manifest.ts';
import { openUrlSource, type ModelSource } from '../model/source.ts';
import { TatokDecoder, TatokEncoder, UNDERSTANDING_SCALE } from '../models/tatok.ts';
import { VqDecoder } from '../models/vqdecoder.ts';
import { TarTokenizer, type ChatTurn } from '../tokenizer/tar-tokenizer.ts';
import { anySignal, throwIfAborted } from './abort.ts';
import { EventChannel } from './channel.ts';
import type { ChatEvent, ImageEvent, ImagineEvent, JobEvent, RgbaImage, VaryEvent } from './events.ts';
import {
  resolveChat,
  resolveImagine,
  resolveVary,
  type ChatOptions,
  type ImagineOptions,
  type VaryOptions,
} from './options.ts';
import { PreviewPacer } from './preview-pacer.ts';
import { JobQueue } from './queue.ts';
import { SelfCheck } from './self-check.ts';
import { TextStream } from './text-stream.ts';
import { PhaseClock } from './timing.ts';
import { imageUniforms, listedUniforms, seededUniforms, type UniformSource } from './uniforms.ts';

/** A kept picture and, with more than one drawing, the round trip that chose it (ImageEvent.roundTrip). */
type Drawn = Pick<ImageEvent, 'pixels' | 'roundTrip'>;

export interface EngineInfo {
  modelId: string;
  components: ComponentName[];
  manifest: Manifest;
  gpu: GpuDeviceInfo;
}

/** What the pages program against: the in-thread Engine and the worker client both implement it. */
export interface TarEngine {
  readonly info: EngineInfo;
  imagine(options: ImagineOptions): AsyncIterable<ImagineEvent>;
  chat(options: ChatOptions): AsyncIterable<ChatEvent>;
  vary(options: VaryOptions): AsyncIterable<VaryEvent>;
  /** GPU buffers held by the engine's pool (tests check that jobs return to a baseline). */
  bufferStats(): Promise<PoolStats>;
  dispose(): Promise<void>;
}

export interface CreateEngineOptions {
  /** A package URL (folder with manifest.json) or an opened ModelSource (local files, the cache). */
  model: string | ModelSource;
  /** Called while the package loads (component names as they finish). */
  onLoad?: (component: ComponentName, loaded: number, total: number) => void;
  /** The GPU to run on. onnxruntime-web binds to one device per page or worker for good, so a page that
   *  loads several models in turn passes the same context each time; the engine then leaves it alive on
   *  dispose. Default: a new context, owned (and destroyed) by the engine. */
  ctx?: GpuContext;
  signal?: AbortSignal;
}

interface Parts {
  tokenizer?: TarTokenizer;
  encoder?: TatokEncoder;
  tatokDecoder?: TatokDecoder;
  llm?: LlmDecoder;
  detok?: ArDetokenizer;
  vq?: VqDecoder;
}

function require<T>(part: T | undefined, component: ComponentName, job: string): T {
  if (!part) throw new InvalidArgumentError(`this model package has no ${component} component, which ${job} needs`);
  return part;
}

async function releaseParts(parts: Parts): Promise<void> {
  await parts.llm?.release();
  await parts.encoder?.release();
  await parts.tatokDecoder?.release();
  await parts.detok?.release();
  await parts.vq?.dispose();
}

export class Engine implements TarEngine {
  private readonly queue = new JobQueue();

  private constructor(
    private readonly ctx: GpuContext,
    private readonly ownsContext: boolean,
    private readonly parts: Parts,
    readonly info: EngineInfo,
  ) {}

  static async create(options: CreateEngineOptions): Promise<Engine> {
    const source = typeof options.model === 'string' ? await openUrlSource(options.model, options.signal) : options.model;
    const ctx = options.ctx ?? (await GpuContext.create());
    const ownsContext = options.ctx === undefined;
    const { components } = source.manifest;
    const names = (Object.keys(components) as ComponentName[]).filter((n) => components[n] !== undefined);
    const parts: Parts = {};
    let loaded = 0;
    const done = (name: ComponentName) => options.onLoad?.(name, ++loaded, names.length);
    try {
      if (components.llm) {
        parts.tokenizer = await TarTokenizer.load(source);
        parts.llm = await LlmDecoder.load(ctx, source);
        done('llm');
      }
      if (components.tatok) {
        parts.encoder = await TatokEncoder.load(ctx, source);
        parts.tatokDecoder = await TatokDecoder.load(ctx, source);
        done('tatok');
      }
      if (components.ardtok) {
        parts.detok = await ArDetokenizer.load(ctx, source);
        done('ardtok');
      }
      if (components.vq) {
        parts.vq = await VqDecoder.load(ctx, source);
        done('vq');
      }
      throwIfAborted(options.signal);
    } catch (error) {
      await releaseParts(parts);
      if (ownsContext) ctx.dispose();
      throw error;
    }
    return new Engine(ctx, ownsContext, parts, { modelId: source.manifest.modelId, components: names, manifest: source.manifest, gpu: ctx.info });
  }

  imagine(options: ImagineOptions): AsyncIterable<ImagineEvent> {
    return this.stream<ImagineEvent>(options.signal, (emit, signal) => this.runImagine(options, emit, signal));
  }

  chat(options: ChatOptions): AsyncIterable<ChatEvent> {
    return this.stream<ChatEvent>(options.signal, (emit, signal) => this.runChat(options, emit, signal));
  }

  vary(options: VaryOptions): AsyncIterable<VaryEvent> {
    return this.stream<VaryEvent>(options.signal, (emit, signal) => this.runVary(options, emit, signal));
  }

  async bufferStats(): Promise<PoolStats> {
    return this.ctx.pool.stats();
  }

  async dispose(): Promise<void> {
    await this.queue.run(async () => undefined);
    await releaseParts(this.parts);
    if (this.ownsContext) this.ctx.dispose();
  }

  /** Queues `job`; its events stream through a channel; leaving the loop early cancels the job. */
  private stream<E extends JobEvent>(
    external: AbortSignal | undefined,
    job: (emit: (event: E) => void, signal: AbortSignal) => Promise<void>,
  ): AsyncIterable<E> {
    const controller = new AbortController();
    const signal = anySignal([external, controller.signal]);
    const channel = new EventChannel<E>(() => controller.abort());
    this.queue
      .run(() => job((event) => channel.push(event), signal), signal)
      .then(
        () => channel.close(),
        (error: unknown) => channel.fail(error),
      );
    return channel;
  }

  private async runImagine(options: ImagineOptions, emit: (e: ImagineEvent) => void, signal: AbortSignal): Promise<void> {
    const { manifest } = this.info;
    const o = resolveImagine(manifest, options);
    const tokenizer = require(this.parts.tokenizer, 'llm', 'imagine');
    const llm = require(this.parts.llm, 'llm', 'imagine');
    const tatok = require(this.parts.tatokDecoder, 'tatok', 'imagine');
    const detok = require(this.parts.detok, 'ardtok', 'imagine');
    const vq = require(this.parts.vq, 'vq', 'imagine');
    const clock = new PhaseClock();
    const promptIds = tokenizer.textToImagePrompt(o.prompt, o.scale - 1);
    const tokensPerImage = llm.imageTokenCount(o.scale);
    llm.checkContext(promptIds.length + tokensPerImage);
    const { cfgScale, cfgMinP, ...tokenSampling } = o.llm;
    const sampling: ImageSampling =
      cfgScale === NO_GUIDANCE
        ? tokenSampling
        : {
            ...tokenSampling,
            guidance: {
              scale: cfgScale,
              negativePromptIds: tokenizer.negativeImagePrompt(o.negativePrompt, o.scale - 1),
              ...(cfgMinP !== undefined ? { condMinP: cfgMinP } : {}),
            },
          };
    if (sampling.guidance) llm.checkContext(sampling.guidance.negativePromptIds.length + tokensPerImage);

    // Each image draws o.candidates pictures (draw d: image ⌊d / candidates⌋, candidate d mod candidates), each
    // picture o.drawings times (one de-tokenizer stream a drawing).
    const perImage = o.candidates;
    const draws = Array.from({ length: o.count * perImage }, (_, d) => ({ image: Math.floor(d / perImage), candidate: d % perImage }));
    const uniforms = draws.map(({ image, candidate }): { llm: UniformSource; detok: UniformSource[] } =>
      options.uniforms && image === 0
        ? { llm: listedUniforms(options.uniforms.llm, 'uniforms.llm'), detok: [listedUniforms(options.uniforms.detok, 'uniforms.detok')] }
        : {
            llm: imageUniforms(o.seed, image, candidate).llm,
            detok: Array.from({ length: o.drawings }, (_, drawing) => imageUniforms(o.seed, image, candidate, drawing).detok),
          },
    );
    const roundTripEncoder = o.drawings > 1 ? require(this.parts.encoder, 'tatok', 'round-trip drawings') : undefined;
    const selfCheck =
      o.selfCheckQuestion === undefined
        ? undefined
        : new SelfCheck(require(this.parts.encoder, 'tatok', 'self-check'), tokenizer, llm, o.selfCheckQuestion, o.prompt);

    const drawTokens = (d: number): Promise<Uint32Array> => {
      const { image } = draws[d] as { image: number };
      return clock.time('llm', () =>
        llm.generateImage(promptIds, o.scale, sampling, (uniforms[d] as { llm: UniformSource }).llm, (_k, i) => emit(clock.progress('llm', image, i + 1, tokensPerImage)), signal),
      );
    };

    // Without a self-check, the LLM draws the next tokens while the de-tokenizer works on these; with one, each
    // candidate is read back before the next is drawn.
    let best: { score: number; candidate: number; drawn: Drawn; tokens: Uint32Array } | undefined;
    let scores: number[] = [];
    let next: Promise<Uint32Array> = drawTokens(0);
    for (let d = 0; d < draws.length; d++) {
      const { image, candidate } = draws[d] as { image: number; candidate: number };
      const tokens = await next;
      const hasNext = d + 1 < draws.length;
      if (hasNext && !selfCheck) {
        next = drawTokens(d + 1);
        next.catch(() => undefined);
      }
      const drawn = await this.drawImage(tokens, o.scale, o.detok, (uniforms[d] as { detok: UniformSource[] }).detok, o.previewEveryRows, image, clock, emit, signal, tatok, detok, vq, roundTripEncoder);
      const seed = (o.seed + image) >>> 0;
      if (!selfCheck) {
        emit({ type: 'image', image, seed, tokens, ...drawn });
        continue;
      }
      const score = await clock.time('self-check', () => selfCheck.score(drawn.pixels, signal));
      emit(clock.progress('self-check', image, candidate + 1, perImage));
      scores.push(score);
      if (!best || score > best.score) best = { score, candidate, drawn, tokens };
      if (candidate === perImage - 1) {
        emit({ type: 'image', image, seed, tokens: best.tokens, ...best.drawn, selfCheck: { candidate: best.candidate, scores } });
        best = undefined;
        scores = [];
      }
      if (hasNext) next = drawTokens(d + 1);
    }
    emit({ type: 'done', timings: clock.timings, elapsedMs: clock.elapsed() });
  }

  /** TA-Tok tokens → features → VQ codes (with previews) → pixels, once per de-tokenizer stream in `uniforms` (a
   *  drawing each); with more than one, `encoder` reads each picture back at `scale` and the drawing whose
   *  read-back agrees with the most of `tokens` (same position, same index) is kept, the first of equals. */
  private async drawImage(
    tokens: Uint32Array,
    scale: number,
    sampling: DetokSampling,
    uniforms: UniformSource[],
    previewEveryRows: number,
    image: number,
    clock: PhaseClock,
    emit: (e: ImagineEvent | VaryEvent) => void,
    signal: AbortSignal,
    tatok: TatokDecoder,
    detok: ArDetokenizer,
    vq: VqDecoder,
    encoder?: TatokEncoder,
  ): Promise<Drawn> {
    const features = await clock.time('tatok-decode', () => tatok.decode(tokens, scale, signal));
    const paint = (stream: UniformSource) => this.paint(features, sampling, stream, previewEveryRows, image, clock, emit, signal, detok, vq);
    if (uniforms.length === 1) return { pixels: await paint(uniforms[0] as UniformSource) };
    const reader = require(encoder, 'tatok', 'round-trip drawings');
    const agreements: number[] = [];
    let kept: { drawing: number; agreement: number; pixels: RgbaImage } | undefined;
    for (const [drawing, stream] of uniforms.entries()) {
      const pixels = await paint(stream);
      const read = await clock.time('round-trip', () => reader.encode(pixels, scale, signal));
      emit(clock.progress('round-trip', image, drawing + 1, uniforms.length));
      const agreement = read.reduce((n, index, i) => (index === tokens[i] ? n + 1 : n), 0);
      agreements.push(agreement);
      if (!kept || agreement > kept.agreement) kept = { drawing, agreement, pixels };
    }
    const { drawing, pixels } = kept as { drawing: number; pixels: RgbaImage };
    return { pixels, roundTrip: { drawing, agreements } };
  }

  /** Features → VQ codes (with previews) → pixels: one drawing. */
  private async paint(
    features: Float32Array,
    sampling: DetokSampling,
    uniforms: UniformSource,
    previewEveryRows: number,
    image: number,
    clock: PhaseClock,
    emit: (e: ImagineEvent | VaryEvent) => void,
    signal: AbortSignal,
    detok: ArDetokenizer,
    vq: VqDecoder,
  ): Promise<RgbaImage> {
    const side = detok.gridSize;
    const total = side * side;
    const codes = new Uint32Array(total);
    const pacer = new PreviewPacer(previewEveryRows);
    let previews: Promise<void> = Promise.resolve();
    await clock.time('detokenize', () =>
      detok.generate(
        features,
        total,
        sampling,
        uniforms,
        (code, i) => {
          codes[i] = code;
          emit(clock.progress('detokenize', image, i + 1, total));
          const rowDone = (i + 1) % side === 0 && i + 1 < total;
          if (rowDone && pacer.take((i + 1) / side, performance.now())) {
            const known = i + 1;
            const snapshot = codes.slice();
            previews = previews.then(async () => {
              const start = performance.now();
              try {
                if (signal.aborted) return;
                const pixels = await vq.decode(snapshot, side, known, signal);
                emit({ type: 'preview', image, done: known, total, pixels });
              } finally {
                pacer.finished(start, performance.now());
              }
            });
          }
        },
        signal,
      ),
    );
    await previews;
    const pixels = await clock.time('vq-decode', () => vq.decode(codes, side, total, signal));
    emit(clock.progress('vq-decode', image, 1, 1));
    return pixels;
  }

  private async runChat(options: ChatOptions, emit: (e: ChatEvent) => void, signal: AbortSignal): Promise<void> {
    const { manifest } = this.info;
    const o = resolveChat(manifest, options);
    const tokenizer = require(this.parts.tokenizer, 'llm', 'chat');
    const llm = require(this.parts.llm, 'llm', 'chat');
    const clock = new PhaseClock();
    const pictures = options.messages.reduce((n, m) => n + (m.images?.length ?? 0), 0);
    const views = pictures > 0 ? o.views : 1;
    // turns[v]: the conversation with every picture read at view v.
    const turns = Array.from({ length: views }, (): ChatTurn[] => []);
    let encoded = 0;
    for (const message of options.messages) {
      const images: Uint32Array[][] = [];
      for (const image of message.images ?? []) {
        const encoder = require(this.parts.encoder, 'tatok', 'chat with images');
        images.push(await clock.time('encode', () => encoder.encodeViews(image, UNDERSTANDING_SCALE, views, signal)));
        emit(clock.progress('encode', 0, ++encoded, pictures));
      }
      for (const [v, turn] of turns.entries()) turn.push({ role: message.role, text: message.text, images: images.map((read) => read[v] as Uint32Array) });
    }
    const prompts = turns.map((t) => tokenizer.chatPrompt(t));
    const promptLength = (prompts[0] as number[]).length;
    llm.checkContext(promptLength + 1);
    const maxNewTokens = Math.min(o.maxNewTokens, llm.maxContext - promptLength);
    const stream = new TextStream((ids) => tokenizer.decode(ids, { skipSpecial: true }));
    const ids = await clock.time('llm', () =>
      llm.generateText(prompts, maxNewTokens, o.llm, seededUniforms(o.seed), (id) => emit({ type: 'token', id, text: stream.push(id) }), signal),
    );
    emit({ type: 'done', timings: clock.timings, elapsedMs: clock.elapsed(), text: tokenizer.decode(ids, { skipSpecial: true }) });
  }

  private async runVary(options: VaryOptions, emit: (e: VaryEvent) => void, signal: AbortSignal): Promise<void> {
    const { manifest } = this.info;
    const o = resolveVary(manifest, options);
    const encoder = require(this.parts.encoder, 'tatok', 'vary');
    const tatok = require(this.parts.tatokDecoder, 'tatok', 'vary');
    const detok = require(this.parts.detok, 'ardtok', 'vary');
    const vq = require(this.parts.vq, 'vq', 'vary');
    const clock = new PhaseClock();
    const tokens = await clock.time('encode', () => encoder.encode(options.image, o.scale, signal));
    emit(clock.progress('encode', 0, 1, 1));
    const { pixels } = await this.drawImage(tokens, o.scale, o.detok, [seededUniforms(o.seed)], o.previewEveryRows, 0, clock, emit, signal, tatok, detok, vq);
    emit({ type: 'image', image: 0, seed: o.seed, pixels, tokens });
    emit({ type: 'done', timings: clock.timings, elapsedMs: clock.elapsed() });
  }
}

/** Creates an engine in this thread (tests, workers). Pages use src/worker/client.ts. */
export function createEngine(options: CreateEngineOptions): Promise<Engine> {
  return Engine.create(options);
}
