// Probes: the decoders (src/decoders/) on the tiny package (/models/tiny/) against the torch goldens
// (/tests/fixtures/goldens/{llm,ardtok}.safetensors): last-position logits through the decoders' own KV-cache
// path, the GPU draw against sampleReference on the golden logits, generation lengths and ranges, stopping,
// determinism, cancellation, and GPU memory over repeated generations. Decoders are loaded once per page.
import { ArDetokenizer } from '../../../src/decoders/ardtok.ts';
import { LlmDecoder, type TokenSampling } from '../../../src/decoders/llm.ts';
import { parseGoldens, type Goldens } from '../../../src/model/goldens.ts';
import { openUrlSource, type ModelSource } from '../../../src/model/source.ts';
import { logProbMeanReference } from '../../../src/kernels/log-prob-mean-reference.ts';
import { repetitionPenaltyReference } from '../../../src/kernels/repetition-penalty.ts';
import { planSample, sampleReference, sampleRowReference, type SampleSettings } from '../../../src/kernels/sample-reference.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { argmax, compareArrays, type Closeness } from '../compare.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';
import { gpu } from './context.ts';

const PACKAGE = '/models/tiny/';

let loaded: Promise<{ source: ModelSource; llm: LlmDecoder; ardtok: ArDetokenizer; llmGold: Goldens; ardGold: Goldens }> | null = null;

async function goldens(component: string): Promise<Goldens> {
  const url = `/tests/fixtures/goldens/${component}.safetensors`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} → ${response.status}`);
  return parseGoldens(await response.arrayBuffer(), url, component);
}

function setup() {
  loaded ??= (async () => {
    const ctx = await gpu();
    const source = await openUrlSource(PACKAGE);
    const llm = await LlmDecoder.load(ctx, source);
    const ardtok = await ArDetokenizer.load(ctx, source);
    return { source, llm, ardtok, llmGold: await goldens('llm'), ardGold: await goldens('ardtok') };
  })();
  return loaded;
}

function tensor(g: Goldens, name: string): { data: ArrayLike<number | bigint>; shape: number[] } {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`golden ${name} is missing`);
  return { data: t.data, shape: t.shape };
}

function floats(g: Goldens, name: string): Float32Array {
  return tensor(g, name).data as Float32Array;
}

function ints(g: Goldens, name: string): number[] {
  return Array.from(tensor(g, name).data as BigInt64Array, Number);
}

/** Row `row` of the last position of logits [B, T, V]. */
function lastRow(g: Goldens, name: string, row: number): Float32Array {
  const { data, shape } = tensor(g, name);
  const [, t, v] = shape as [number, number, number];
  const start = (row * t + t - 1) * v;
  return (data as Float32Array).slice(start, start + v);
}

/** The golden-runner tolerance: max(1e-4·|expected|, 1e-5·max(1, max|expected|)). */
function close(actual: Float32Array, expected: Float32Array): Closeness {
  let scale = 1;
  for (const x of expected) scale = Math.max(scale, Math.abs(x));
  return compareArrays(actual, expected, 1e-5 * scale, 1e-4);
}

/** f32 CFG combine l_u + s·(l_c − l_u) of logits [2, V]. */
function cfg(rows: Float32Array, scale: number): Float32Array {
  const v = rows.length / 2;
  const out = new Float32Array(v);
  for (let i = 0; i < v; i++) {
    const c = rows[i] as number;
    const u = rows[v + i] as number;
    out[i] = Math.fround(u + Math.fround(Math.fround(scale) * Math.fround(c - u)));
  }
  return out;
}

function imagePrompt(llmGold: Goldens, source: ModelSource, scale: number): number[] {
  const ids = ints(llmGold, 'prompt.input_ids');
  ids[ids.length - 1] = (source.manifest.components.llm?.tokens.scaleTokenBase as number) + scale - 1;
  return ids;
}

function poolStats() {
  return gpu().then((ctx) => ctx.pool.stats());
}

export interface LlmParityReport {
  prefill: Closeness;
  decode: Closeness;
}

/** Golden prompt (prefill, empty past) then the golden decode token on the cache. */
async function llmParity(): Promise<LlmParityReport> {
  const { llm, llmGold } = await setup();
  const prompt = ints(llmGold, 'prefill.input.input_ids');
  const token = ints(llmGold, 'decode.input.input_ids');
  const [prefill, decode] = (await llm.lastLogits([prompt, token])) as [Float32Array, Float32Array];
  return {
    prefill: close(prefill, lastRow(llmGold, 'prefill.output.logits', 0)),
    decode: close(decode, lastRow(llmGold, 'decode.output.logits', 0)),
  };
}

export interface ArdtokParityReport {
  prefillRows: Closeness;
  cfgSteps: Closeness[];
}

/** Golden condition row 0 as features; prefill rows vs prefill.output.logits[:, -1]; CFG-combined logits of the
 *  prefill and of each golden token fed vs generate.cfg_logits. */
async function ardtokParity(): Promise<ArdtokParityReport> {
  const { ardtok, ardGold } = await setup();
  const [, n, d] = tensor(ardGold, 'condition_embed.input.condition').shape as [number, number, number];
  const features = floats(ardGold, 'condition_embed.input.condition').slice(0, n * d);
  const tokens = ints(ardGold, 'generate.token_ids');
  const scale = floats(ardGold, 'generate.cfg_scale')[0] as number;
  const steps = await ardtok.lastLogits(features, tokens);
  const expectedRows = new Float32Array([...lastRow(ardGold, 'prefill.output.logits', 0), ...lastRow(ardGold, 'prefill.output.logits', 1)]);
  const golden = floats(ardGold, 'generate.cfg_logits');
  const v = golden.length / steps.length;
  return {
    prefillRows: close(steps[0] as Float32Array, expectedRows),
    cfgSteps: steps.map((rows, i) => close(cfg(rows, scale), golden.slice(i * v, (i + 1) * v))),
  };
}

const GAP = 1e-3;

/** Uniforms kept GAP away from the reference's cumulative boundaries (GPU and golden logits differ by ~1e-5). */
function clearUniforms(count: number, seed: number, boundaries: number[]): number[] {
  const random = new SeededRandom(seed);
  const out: number[] = [];
  while (out.length < count) {
    const u = random.next();
    if ([0, ...boundaries].every((b) => Math.abs(b - u) > GAP)) out.push(u);
  }
  return out;
}

/** Top-p 1 keeps every token; otherwise 1 − p must lie GAP away from each ascending cumulative sum. */
function topPClear(suffix: number[], topP: number): boolean {
  return topP === 1 || suffix.slice(1).every((s) => Math.abs(s - (1 - topP)) > GAP);
}

export interface AgreementReport {
  gpu: number[];
  reference: number[];
  distinct: number;
  /** Top-p limit 1 − p is clear of every cumulative boundary. */
  topPClear: boolean;
}

function stopAfter(controller: AbortController, k: number): (x: number, i: number) => void {
  return (_x, i) => {
    if (i + 1 >= k) controller.abort();
  };
}

/** The first image token of the golden prompt, drawn by generateImage with fixed uniforms, against
 *  sampleReference on the golden prefill logits (image range, top-k, top-p). */
async function llmAgreement(sampling: TokenSampling, draws: number): Promise<AgreementReport> {
  const { llm, llmGold, source } = await setup();
  const tokens = source.manifest.components.llm!.tokens;
  const logits = lastRow(llmGold, 'prefill.output.logits', 0);
  const settings: SampleSettings = { ...sampling, range: { lo: tokens.imageTokenBase, hi: tokens.imageTokenBase + tokens.imageTokenCount } };
  const shape = { batch: 1, vocab: logits.length };
  const plan = planSample(shape, settings);
  const row = sampleRowReference(plan, logits, shape.vocab, plan.rows[0]!, 0);
  const uniforms = clearUniforms(draws, 11, row.drawCumulative);
  const report: AgreementReport = { gpu: [], reference: [], distinct: 0, topPClear: topPClear(row.topPSuffix, sampling.topP) };
  for (const u of uniforms) {
    const controller = new AbortController();
    let first = -1;
    const stop = stopAfter(controller, 1);
    await llm
      .generateImage(ints(llmGold, 'prompt.input_ids'), 1, sampling, () => u, (k, i) => {
        first = k + tokens.imageTokenBase;
        stop(k, i);
      }, controller.signal)
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') throw e;
      });
    report.gpu.push(first);
    report.reference.push(sampleReference(shape, settings, logits, [u])[0] as number);
  }
  report.distinct = new Set(report.reference).size;
  return report;
}

/** The first code drawn by ArDetokenizer.generate with fixed uniforms against sampleReference with CFG (and
 *  cfgMinP's conditional filter when given) on the golden prefill logits [2, V]; `unfiltered`: the reference's
 *  draws with the same uniforms and no filter. */
async function ardtokAgreement(
  sampling: { temperature: number; topK: number; topP: number; cfgMinP?: number },
  draws: number,
): Promise<AgreementReport & { unfiltered: number[] }> {
  const { ardtok, ardGold } = await setup();
  const [, n, d] = tensor(ardGold, 'condition_embed.input.condition').shape as [number, number, number];
  const features = floats(ardGold, 'condition_embed.input.condition').slice(0, n * d);
  const scale = floats(ardGold, 'generate.cfg_scale')[0] as number;
  const logits = new Float32Array([...lastRow(ardGold, 'prefill.output.logits', 0), ...lastRow(ardGold, 'prefill.output.logits', 1)]);
  const { cfgMinP, ...tokenSampling } = sampling;
  const unfilteredSettings: SampleSettings = { ...tokenSampling, guidance: { scale, pairs: [[0, 1]] } };
  const settings: SampleSettings =
    cfgMinP === undefined ? unfilteredSettings : { ...tokenSampling, guidance: { scale, pairs: [[0, 1]], condMinP: cfgMinP } };
  const shape = { batch: 2, vocab: logits.length / 2 };
  const plan = planSample(shape, settings);
  const row = sampleRowReference(plan, logits, shape.vocab, plan.rows[0]!, 0);
  const uniforms = clearUniforms(draws, 12, row.drawCumulative);
  const report = { gpu: [] as number[], reference: [] as number[], unfiltered: [] as number[], distinct: 0, topPClear: topPClear(row.topPSuffix, sampling.topP) };
  for (const u of uniforms) {
    const [code] = await ardtok.generate(features, 1, { ...sampling, cfgScale: scale }, () => u);
    report.gpu.push(code as number);
    report.reference.push(sampleReference(shape, settings, logits, [u])[0] as number);
    report.unfiltered.push(sampleReference(shape, unfilteredSettings, logits, [u])[0] as number);
  }
  report.distinct = new Set(report.reference).size;
  return report;
}

export interface ImageRunReport {
  expected: number;
  indices: number[];
  callbacks: number;
  inRange: boolean;
  /** ledger.live seen in each onToken call, and after the call. */
  liveDuring: number[];
  liveAfter: number;
  /** 2 · layers: the presents a step keeps. */
  kvTensors: number;
  /** Wall time of the call per token (prefill included), ms. */
  msPerToken: number;
}

async function llmImage(scale: number, seed: number): Promise<ImageRunReport> {
  const { llm, llmGold, source } = await setup();
  const tatok = source.manifest.components.tatok!.config;
  const count = source.manifest.components.llm!.tokens.imageTokenCount;
  const random = new SeededRandom(seed);
  const liveDuring: number[] = [];
  let callbacks = 0;
  const start = performance.now();
  const indices = await llm.generateImage(imagePrompt(llmGold, source, scale), scale, source.manifest.sampling.textToImage, () => random.next(), (_k, i) => {
    if (i !== callbacks) throw new Error(`onToken index ${i}, expected ${callbacks}`);
    callbacks++;
    liveDuring.push(llm.ledger.live);
  });
  return {
    expected: Math.floor(tatok.gridSize / scale) ** 2,
    indices: Array.from(indices),
    callbacks,
    inRange: indices.every((k) => k < count),
    liveDuring,
    liveAfter: llm.ledger.live,
    kvTensors: 2 * source.manifest.components.llm!.config.layers,
    msPerToken: (performance.now() - start) / indices.length,
  };
}

export interface GuidedRunReport {
  /** Image-token ids drawn by generateImage with prompt guidance, and sampleReference with the same guidance on
   *  lastLogits of the prompt and the negative prompt, each fed the ids drawn before. */
  drawn: number[];
  reference: number[];
  /** Steps where sampleReference without guidance (the prompt's logits alone) draws another id. */
  unguidedDiffer: number;
  /** ledger.live seen in each onToken call, and after the call. */
  liveDuring: number[];
  liveAfter: number;
  /** 2 · layers: the presents one step keeps (one cache, its batch holding both sequences). */
  kvTensors: number;
  error: ThrownError | null;
  inUseBefore: number;
  inUseAfter: number;
}

/** `steps` image tokens at scale 1 with prompt guidance `scale` (and its conditional min-p filter unless null)
 *  against a negative prompt shorter than the prompt (three ids: the golden prompt's first id and its
 *  <im_start><S0> tail) or longer (the prompt with two more ids before it), so that one of the two rows runs
 *  left-padded; then the same draws recomputed from the decoder's own logits of each sequence alone. */
async function llmGuided(scale: number, steps: number, condMinP: number | null, negativeIs: 'shorter' | 'longer'): Promise<GuidedRunReport> {
  const { llm, llmGold, source } = await setup();
  const { tokens, config } = source.manifest.components.llm!;
  const prompt = imagePrompt(llmGold, source, 1);
  const negative = negativeIs === 'shorter' ? [prompt[0] as number, ...prompt.slice(-2)] : [prompt[1] as number, prompt[0] as number, ...prompt];
  const sampling: TokenSampling = { temperature: 1, topK: 0, topP: 1 };
  const random = new SeededRandom(21);
  const uniforms = Array.from({ length: steps }, () => random.next());
  const inUseBefore = (await poolStats()).inUseBytes;
  const controller = new AbortController();
  const stop = stopAfter(controller, steps);
  const drawn: number[] = [];
  const liveDuring: number[] = [];
  const error = await describeErrorForTest(() =>
    llm.generateImage(prompt, 1, { ...sampling, guidance: { scale, negativePromptIds: negative, ...(condMinP === null ? {} : { condMinP }) } }, () => uniforms[drawn.length] as number, (k, i) => {
      drawn.push(k + tokens.imageTokenBase);
      liveDuring.push(llm.ledger.live);
      stop(k, i);
    }, controller.signal),
  );
  const inUseAfter = (await poolStats()).inUseBytes;
  const fed = drawn.slice(0, -1).map((id) => [id]);
  const cond = await llm.lastLogits([prompt, ...fed]);
  const uncond = await llm.lastLogits([negative, ...fed]);
  const range = { lo: tokens.imageTokenBase, hi: tokens.imageTokenBase + tokens.imageTokenCount };
  const guided: SampleSettings = { ...sampling, range, guidance: { scale, pairs: [[0, 1]], ...(condMinP === null ? {} : { condMinP }) } };
  const vocab = config.vocabSize;
  const reference = drawn.map((_, i) => {
    const rows = new Float32Array(2 * vocab);
    rows.set(cond[i] as Float32Array);
    rows.set(uncond[i] as Float32Array, vocab);
    return sampleReference({ batch: 2, vocab }, guided, rows, [uniforms[i] as number])[0] as number;
  });
  const unguided = drawn.map((_, i) => sampleReference({ batch: 1, vocab }, { ...sampling, range }, cond[i] as Float32Array, [uniforms[i] as number])[0]);
  return {
    drawn,
    reference,
    unguidedDiffer: unguided.filter((id, i) => id !== reference[i]).length,
    liveDuring,
    liveAfter: llm.ledger.live,
    kvTensors: 2 * config.layers,
    error,
    inUseBefore,
    inUseAfter,
  };
}

export interface TextRunReport {
  ids: number[];
  stops: number[];
  /** Greedy: the tokens chosen by re-prefilling prompt + prefix without a cache (argmax of lastLogits). */
  uncached: number[];
}

/** generateText on `prompt` (default: the golden prompt); with greedy sampling also the uncached argmax chain. */
async function llmText(prompt: number[] | null, maxNewTokens: number, sampling: TokenSampling, seed: number): Promise<TextRunReport> {
  const { llm, llmGold, source } = await setup();
  const tokens = source.manifest.components.llm!.tokens;
  const ids0 = prompt ?? ints(llmGold, 'prompt.input_ids').slice(0, -2);
  const random = new SeededRandom(seed);
  const ids = await llm.generateText([ids0], maxNewTokens, sampling, () => random.next());
  const uncached: number[] = [];
  if (sampling.temperature === 0) {
    for (let i = 0; i < ids.length; i++) {
      const [logits] = (await llm.lastLogits([[...ids0, ...ids.slice(0, i)]])) as [Float32Array];
      uncached.push(argmax(logits));
    }
  }
  return { ids, stops: [tokens.imEnd, ...tokens.eos], uncached };
}

/** The greedy next token of each candidate prompt (one prefill each). */
async function llmGreedyNext(prompts: number[][]): Promise<number[]> {
  const { llm } = await setup();
  const out: number[] = [];
  for (const p of prompts) out.push(argmax(((await llm.lastLogits([p])) as [Float32Array])[0]));
  return out;
}

export interface ViewsReport {
  ids: number[];
  /** Step by step on the CPU: each view's uncached last-position logits, penalised over every view's prompt and
   *  the ids so far, combined by logProbMeanReference, drawn by sampleReference with the same uniform. */
  reference: number[];
  /** The first view alone. */
  plain: number[];
  liveAfter: number;
  inUseBefore: number;
  inUseAfter: number;
}

/** generateText over three views of the golden prompt (view v: a few of its ids replaced), against the CPU chain. */
async function llmViews(sampling: TokenSampling, seed: number, maxNewTokens = 6): Promise<ViewsReport> {
  const { llm, llmGold, source } = await setup();
  const vocab = source.manifest.components.llm!.config.vocabSize;
  const base = ints(llmGold, 'prompt.input_ids').slice(0, -2);
  const edit = new SeededRandom(seed + 100);
  const views = [base, ...[1, 2].map(() => base.map((id, i) => (i > 0 && edit.next() < 0.5 ? Math.floor(edit.next() * vocab) : id)))];
  const uniforms = new SeededRandom(seed);
  const drawn: number[] = [];
  const inUseBefore = (await poolStats()).inUseBytes;
  const ids = await llm.generateText(views, maxNewTokens, sampling, () => {
    const u = uniforms.next();
    drawn.push(u);
    return u;
  });
  const inUseAfter = (await poolStats()).inUseBytes;
  const { repetitionPenalty = 1, ...settings } = sampling;
  const reference: number[] = [];
  for (let step = 0; step < ids.length; step++) {
    const rows = new Float32Array(views.length * vocab);
    for (const [v, view] of views.entries()) rows.set(((await llm.lastLogits([[...view, ...ids.slice(0, step)]])) as [Float32Array])[0], v * vocab);
    const penalised = repetitionPenaltyReference(rows, vocab, [...views.flat(), ...ids.slice(0, step)], repetitionPenalty);
    const mean = logProbMeanReference({ rows: views.length, vocab }, penalised);
    reference.push(sampleReference({ batch: 1, vocab }, settings, mean, [drawn[step] ?? 0])[0] as number);
  }
  const again = new SeededRandom(seed);
  const plain = await llm.generateText([base], maxNewTokens, sampling, () => again.next());
  return { ids, reference, plain, liveAfter: llm.ledger.live, inUseBefore, inUseAfter };
}

export interface AbortReport {
  error: ThrownError | null;
  received: number;
  inUseBefore: number;
  inUseAfter: number;
  liveAfter: number;
}

/** Aborts after `k` tokens/codes (from the callback); reports what was received and the pool afterwards. */
async function abortAfter(which: 'llm' | 'ardtok', k: number): Promise<AbortReport> {
  const { llm, ardtok, llmGold, source, ardGold } = await setup();
  const inUseBefore = (await poolStats()).inUseBytes;
  const controller = new AbortController();
  const stop = stopAfter(controller, k);
  let received = 0;
  const onStep = (x: number, i: number) => {
    received++;
    stop(x, i);
  };
  const random = new SeededRandom(3);
  const error = await describeErrorForTest(() => {
    if (which === 'llm') {
      return llm.generateImage(imagePrompt(llmGold, source, 1), 1, source.manifest.sampling.textToImage, () => random.next(), onStep, controller.signal);
    }
    const [, n, d] = tensor(ardGold, 'condition_embed.input.condition').shape as [number, number, number];
    const features = floats(ardGold, 'condition_embed.input.condition').slice(0, n * d);
    return ardtok.generate(features, undefined, undefined, () => random.next(), onStep, controller.signal);
  });
  return { error, received, inUseBefore, inUseAfter: (await poolStats()).inUseBytes, liveAfter: which === 'llm' ? llm.ledger.live : ardtok.ledger.live };
}

export interface RepeatReport {
  allocatedAfter: number[];
  inUseAfter: number[];
  liveAfter: number[];
  liveDuring: number[];
  kvTensors: number;
}

/** `runs` consecutive generations (LLM: scale 3 image; ardtok: `tokens` codes); pool and tensor counts after each. */
async function repeat(which: 'llm' | 'ardtok', runs: number, tokens: number): Promise<RepeatReport> {
  const { llm, ardtok, llmGold, source, ardGold } = await setup();
  const layers = which === 'llm' ? source.manifest.components.llm!.config.layers : source.manifest.components.ardtok!.config.layers;
  const report: RepeatReport = { allocatedAfter: [], inUseAfter: [], liveAfter: [], liveDuring: [], kvTensors: 2 * layers };
  const [, n, d] = tensor(ardGold, 'condition_embed.input.condition').shape as [number, number, number];
  const features = floats(ardGold, 'condition_embed.input.condition').slice(0, n * d);
  for (let r = 0; r < runs; r++) {
    const random = new SeededRandom(100 + r);
    if (which === 'llm') {
      await llm.generateImage(imagePrompt(llmGold, source, 3), 3, source.manifest.sampling.textToImage, () => random.next(), () => {
        report.liveDuring.push(llm.ledger.live);
      });
    } else {
      await ardtok.generate(features, tokens, undefined, () => random.next(), () => {
        report.liveDuring.push(ardtok.ledger.live);
      });
    }
    const stats = await poolStats();
    report.allocatedAfter.push(stats.allocatedBytes);
    report.inUseAfter.push(stats.inUseBytes);
    report.liveAfter.push(which === 'llm' ? llm.ledger.live : ardtok.ledger.live);
  }
  return report;
}

export interface UnguidedRunReport {
  /** Codes drawn by ArDetokenizer.generate at cfgScale 1, and sampleReference without guidance on the
   *  conditional row of lastLogits (the batch-2 CFG run) fed the codes drawn before. */
  drawn: number[];
  reference: number[];
  /** Steps where sampleReference with a guidance other than 1 on the same rows draws another code. */
  guidedDiffer: number;
  liveAfter: number;
  inUseBefore: number;
  inUseAfter: number;
}

/** maxSeqLen codes at cfgScale 1 (one batch row, no unconditional row) against the conditional row of the CFG run. */
async function ardtokUnguided(): Promise<UnguidedRunReport> {
  const { ardtok, ardGold, source } = await setup();
  const { vocabSize: vocab, maxSeqLen: steps } = source.manifest.components.ardtok!.config;
  const [, n, d] = tensor(ardGold, 'condition_embed.input.condition').shape as [number, number, number];
  const features = floats(ardGold, 'condition_embed.input.condition').slice(0, n * d);
  const sampling = { temperature: 1, topK: 0, topP: 1 };
  const random = new SeededRandom(23);
  const uniforms = Array.from({ length: steps }, () => random.next());
  const inUseBefore = (await poolStats()).inUseBytes;
  let next = 0;
  const drawn = Array.from(await ardtok.generate(features, steps, { ...sampling, cfgScale: 1 }, () => uniforms[next++] as number));
  const inUseAfter = (await poolStats()).inUseBytes;
  const rows = await ardtok.lastLogits(features, drawn.slice(0, -1));
  const reference = rows.map((both, i) => sampleReference({ batch: 1, vocab }, sampling, both.subarray(0, vocab), [uniforms[i] as number])[0] as number);
  const guided: SampleSettings = { ...sampling, guidance: { scale: 3, pairs: [[0, 1]] } };
  const guidedDraws = rows.map((both, i) => sampleReference({ batch: 2, vocab }, guided, both, [uniforms[i] as number])[0]);
  return {
    drawn,
    reference,
    guidedDiffer: guidedDraws.filter((id, i) => id !== reference[i]).length,
    liveAfter: ardtok.ledger.live,
    inUseBefore,
    inUseAfter,
  };
}

/** ArDetokenizer.generate with the package defaults, twice with one seed and once with another. */
async function ardtokGenerate(tokens: number | null): Promise<{ codes: number[][]; vocab: number; maxSeqLen: number; callbacks: number }> {
  const { ardtok, ardGold, source } = await setup();
  const [, n, d] = tensor(ardGold, 'condition_embed.input.condition').shape as [number, number, number];
  const features = floats(ardGold, 'condition_embed.input.condition').slice(0, n * d);
  const codes: number[][] = [];
  let callbacks = 0;
  for (const seed of [1, 1, 2]) {
    const random = new SeededRandom(seed);
    codes.push(Array.from(await ardtok.generate(features, tokens ?? undefined, undefined, () => random.next(), () => callbacks++)));
  }
  const config = source.manifest.components.ardtok!.config;
  return { codes, vocab: config.vocabSize, maxSeqLen: config.maxSeqLen, callbacks };
}

/** The typed errors of bad calls, by case name. */
export interface AnswerScoreReport {
  score: number;
  /** The same score from lastLogits of the prompt and then of each answer id (one cached step each). */
  stepwise: number;
  liveAfter: number;
  inUseBefore: number;
  inUseAfter: number;
  errors: Record<string, ThrownError | null>;
}

/** answerLogProb of the golden prompt answered by `answer`, against the log-softmax of the step-by-step logits. */
async function llmAnswerScore(answer: number[]): Promise<AnswerScoreReport> {
  const { llm, llmGold, source } = await setup();
  const prompt = ints(llmGold, 'prompt.input_ids');
  const inUseBefore = (await poolStats()).inUseBytes;
  const score = await llm.answerLogProb(prompt, answer);
  const rows = await llm.lastLogits([prompt, ...answer.slice(0, -1).map((id) => [id])]);
  const stepwise = answer.reduce((total, id, i) => {
    const row = Array.from(rows[i] as Float32Array);
    const max = Math.max(...row);
    return total + (row[id] as number) - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
  }, 0);
  const context = source.manifest.components.llm!.config.maxPositionEmbeddings;
  const vocab = source.manifest.components.llm!.config.vocabSize;
  const errors = {
    emptyAnswer: await describeErrorForTest(() => llm.answerLogProb(prompt, [])),
    emptyPrompt: await describeErrorForTest(() => llm.answerLogProb([], [1])),
    pastContext: await describeErrorForTest(() => llm.answerLogProb(prompt, new Array<number>(context).fill(1))),
    idOutsideVocab: await describeErrorForTest(() => llm.answerLogProb(prompt, [1, vocab])),
    aborted: await describeErrorForTest(() => llm.answerLogProb(prompt, answer, AbortSignal.abort())),
  };
  return { score, stepwise, liveAfter: llm.ledger.live, inUseBefore, inUseAfter: (await poolStats()).inUseBytes, errors };
}

async function decoderErrors(): Promise<Record<string, ThrownError | null>> {
  const { llm, ardtok, llmGold, source } = await setup();
  const t2i = source.manifest.sampling.textToImage;
  const u = () => 0.5;
  const llmConfig = source.manifest.components.llm!.config;
  const condDim = source.manifest.components.ardtok!.config.condDim;
  return {
    unknownScale: await describeErrorForTest(() => llm.generateImage(imagePrompt(llmGold, source, 1), 4, t2i, u)),
    wrongPromptTail: await describeErrorForTest(() => llm.generateImage(imagePrompt(llmGold, source, 1), 2, t2i, u)),
    wrongNegativeTail: await describeErrorForTest(() =>
      llm.generateImage(imagePrompt(llmGold, source, 1), 1, { ...t2i, guidance: { scale: 2, negativePromptIds: [1, 2] } }, u),
    ),
    contextTooLong: await describeErrorForTest(() =>
      llm.generateText([new Array<number>(llmConfig.maxPositionEmbeddings - 3).fill(1)], 4, t2i, u),
    ),
    idOutsideVocab: await describeErrorForTest(() => llm.generateText([[1, llmConfig.vocabSize]], 2, t2i, u)),
    badTopP: await describeErrorForTest(() => llm.generateText([[1, 2]], 2, { temperature: 1, topK: 0, topP: 0 }, u)),
    featuresNotRows: await describeErrorForTest(() => ardtok.generate(new Float32Array(condDim * 2 + 1), 2, undefined, u)),
    featuresNotFinite: await describeErrorForTest(() => ardtok.generate(new Float32Array(condDim).fill(Number.NaN), 2, undefined, u)),
    tooManyCodes: await describeErrorForTest(() => ardtok.generate(new Float32Array(condDim), 1000, undefined, u)),
  };
}

export const decoderProbes = {
  llmParity,
  llmViews,
  ardtokParity,
  llmAgreement,
  ardtokAgreement,
  llmImage,
  llmGuided,
  llmText,
  llmGreedyNext,
  llmAnswerScore,
  abortAfter,
  repeat,
  ardtokGenerate,
  ardtokUnguided,
  decoderErrors,
};
