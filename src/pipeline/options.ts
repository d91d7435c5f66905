// The options of each job, their defaults (from the manifest's sampling section) and their validation.
// A bad option is an InvalidArgumentError naming it; nothing here touches the GPU.
import { InvalidArgumentError } from '../errors.ts';
import type { Manifest } from '../model/manifest.ts';
import type { ImageInput } from '../models/image.ts';
import { checkViews } from '../models/views.ts';

export interface SamplingOverrides {
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Reproducibility: the same seed gives the same result on the same backend. Default: random. */
  seed?: number;
}

export interface ImagineOptions extends SamplingOverrides {
  prompt: string;
  /** TA-Tok pool scale: 1, 2, 3 → 729, 169, 81 tokens for Tar (manifest poolScales). */
  scale?: number;
  /** Output side in pixels; the package's de-tokenizer decides which sizes exist. */
  size?: number;
  /** Classifier-free guidance of the de-tokenizer. */
  cfg?: number;
  /** Classifier-free guidance of the LLM's image tokens: the prompt against `negativePrompt` (1 = none). Default:
   *  the package's sampling.textToImage.cfgScale. */
  promptCfg?: number;
  /** What prompt guidance steers away from; default '' (the template with an empty user message). */
  negativePrompt?: string;
  /** Images for this prompt; image i uses seed + i. */
  count?: number;
  /** Self-check: pictures drawn per image (each with streams of its own, candidate 0 those of the image), of which
   *  the one the model itself reads back as likeliest to be described by the prompt is kept. Needs the package's
   *  sampling.textToImage.selfCheckQuestion and the TA-Tok encoder. Default: the package's candidates (1). */
  candidates?: number;
  /** Round trip: drawings the de-tokenizer makes of each picture's image tokens (each with a stream of its own,
   *  drawing 0 that of the picture), of which the one the TA-Tok encoder reads back as the most of those tokens
   *  (same position, same index) is kept; each costs a de-tokenizer pass. Default: the package's
   *  sampling.detokenizer.drawings (1). */
  drawings?: number;
  /** A preview every this many VQ-code rows (0: none), fewer where the previews would take more than a quarter of
   *  the drawing time (a slow adapter: src/pipeline/preview-pacer.ts). */
  previewEveryRows?: number;
  signal?: AbortSignal;
  /** Tests: explicit uniforms instead of the seeded generator, one per drawn token. */
  uniforms?: { llm: ArrayLike<number>; detok: ArrayLike<number> };
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  text: string;
  images?: ImageInput[];
}

export interface ChatOptions extends SamplingOverrides {
  messages: ChatMessage[];
  maxNewTokens?: number;
  /** Hugging Face's repetition penalty (1 = off); default from the package's chat sampling. */
  repetitionPenalty?: number;
  /** Test-time views: every picture is read this many times, shifted by a pixel each way (src/models/views.ts),
   *  and each token is drawn from the mean of the views' log-probabilities; 1 to 9. Default: the package's
   *  sampling.chat.views (1). A conversation without pictures is read once. */
  views?: number;
  signal?: AbortSignal;
}

export interface VaryOptions extends SamplingOverrides {
  image: ImageInput;
  scale?: number;
  cfg?: number;
  previewEveryRows?: number;
  signal?: AbortSignal;
}

export interface ResolvedImagine {
  prompt: string;
  scale: number;
  size: number;
  cfg: number;
  count: number;
  candidates: number;
  drawings: number;
  /** Asked of every candidate when candidates > 1. */
  selfCheckQuestion?: string;
  seed: number;
  previewEveryRows: number;
  llm: { temperature: number; topK: number; topP: number; cfgScale: number; cfgMinP?: number };
  negativePrompt: string;
  detok: { cfgScale: number; cfgMinP?: number; temperature: number; topK: number; topP: number };
}

/** The most self-check candidates one image may draw. */
const MAX_CANDIDATES = 16;

/** The most round-trip drawings one picture may make. */
const MAX_DRAWINGS = 16;

function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

function check(condition: boolean, name: string, value: unknown, rule: string): void {
  if (!condition) throw new InvalidArgumentError(`${name} = ${JSON.stringify(value)}: ${rule}`);
}

function checkSampling(o: SamplingOverrides): void {
  if (o.temperature !== undefined) check(Number.isFinite(o.temperature) && o.temperature >= 0, 'temperature', o.temperature, 'must be ≥ 0');
  if (o.topK !== undefined) check(Number.isInteger(o.topK) && o.topK >= 0, 'topK', o.topK, 'must be an integer ≥ 0');
  if (o.topP !== undefined) check(o.topP > 0 && o.topP <= 1, 'topP', o.topP, 'must lie in (0, 1]');
  if (o.seed !== undefined) check(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32, 'seed', o.seed, 'must be an integer in [0, 2^32)');
}

export function checkScale(manifest: Manifest, scale: number): void {
  const scales = manifest.components.tatok?.config.poolScales ?? [];
  check(scales.includes(scale), 'scale', scale, `must be one of ${scales.join(', ')}`);
}

export function supportedSizes(manifest: Manifest): number[] {
  const ardtok = manifest.components.ardtok;
  return ardtok ? [ardtok.config.imageSize] : [];
}

function resolveDetok(manifest: Manifest, o: SamplingOverrides & { cfg?: number }) {
  const d = manifest.sampling.detokenizer;
  if (o.cfg !== undefined) check(Number.isFinite(o.cfg) && o.cfg >= 0, 'cfg', o.cfg, 'must be ≥ 0');
  return {
    cfgScale: o.cfg ?? d.cfgScale,
    ...(d.cfgMinP !== undefined ? { cfgMinP: d.cfgMinP } : {}),
    temperature: d.temperature,
    topK: d.topK,
    topP: d.topP,
  };
}

export function resolveImagine(manifest: Manifest, o: ImagineOptions): ResolvedImagine {
  check(typeof o.prompt === 'string' && o.prompt.trim().length > 0, 'prompt', o.prompt, 'must not be empty');
  checkSampling(o);
  const scale = o.scale ?? manifest.components.tatok?.config.defaultPoolScale ?? 1;
  checkScale(manifest, scale);
  const sizes = supportedSizes(manifest);
  const size = o.size ?? sizes[0] ?? 0;
  check(sizes.includes(size), 'size', size, `this model draws ${sizes.join(', ') || 'no'} px images`);
  const count = o.count ?? 1;
  check(Number.isInteger(count) && count >= 1 && count <= 16, 'count', count, 'must be an integer in [1, 16]');
  const previewEveryRows = o.previewEveryRows ?? 1;
  check(Number.isInteger(previewEveryRows) && previewEveryRows >= 0, 'previewEveryRows', previewEveryRows, 'must be an integer ≥ 0');
  const t = manifest.sampling.textToImage;
  const candidates = o.candidates ?? t.candidates;
  check(Number.isInteger(candidates) && candidates >= 1 && candidates <= MAX_CANDIDATES, 'candidates', candidates, `must be an integer in [1, ${MAX_CANDIDATES}]`);
  if (candidates > 1) {
    check(t.selfCheckQuestion !== undefined, 'candidates', candidates, 'needs a package whose manifest names sampling.textToImage.selfCheckQuestion');
    check(o.uniforms === undefined, 'candidates', candidates, 'cannot be more than 1 with explicit uniforms (they are one picture\'s)');
  }
  const drawings = o.drawings ?? manifest.sampling.detokenizer.drawings ?? 1;
  check(Number.isInteger(drawings) && drawings >= 1 && drawings <= MAX_DRAWINGS, 'drawings', drawings, `must be an integer in [1, ${MAX_DRAWINGS}]`);
  if (drawings > 1) check(o.uniforms === undefined, 'drawings', drawings, 'cannot be more than 1 with explicit uniforms (they are one drawing\'s)');
  if (o.promptCfg !== undefined) check(Number.isFinite(o.promptCfg) && o.promptCfg >= 0, 'promptCfg', o.promptCfg, 'must be ≥ 0');
  if (o.negativePrompt !== undefined) check(typeof o.negativePrompt === 'string', 'negativePrompt', o.negativePrompt, 'must be a string');
  const detok = resolveDetok(manifest, o);
  return {
    prompt: o.prompt,
    scale,
    size,
    cfg: detok.cfgScale,
    count,
    candidates,
    drawings,
    ...(candidates > 1 ? { selfCheckQuestion: t.selfCheckQuestion } : {}),
    seed: o.seed ?? randomSeed(),
    previewEveryRows,
    llm: {
      temperature: o.temperature ?? t.temperature,
      topK: o.topK ?? t.topK,
      topP: o.topP ?? t.topP,
      cfgScale: o.promptCfg ?? t.cfgScale,
      ...(t.cfgMinP !== undefined ? { cfgMinP: t.cfgMinP } : {}),
    },
    negativePrompt: o.negativePrompt ?? '',
    detok,
  };
}

export interface ResolvedChat {
  maxNewTokens: number;
  views: number;
  seed: number;
  llm: { temperature: number; topK: number; topP: number; repetitionPenalty: number };
}

export function resolveChat(manifest: Manifest, o: ChatOptions): ResolvedChat {
  check(Array.isArray(o.messages) && o.messages.length > 0, 'messages', o.messages?.length, 'must hold at least one message');
  const last = o.messages[o.messages.length - 1];
  check(last?.role === 'user', 'messages', last?.role, 'must end with a user message');
  for (const [i, m] of o.messages.entries()) {
    check(m.role === 'user' || m.role === 'assistant', `messages[${i}].role`, m.role, 'must be user or assistant');
    check(typeof m.text === 'string', `messages[${i}].text`, m.text, 'must be a string');
    check(m.text.trim().length > 0 || (m.images?.length ?? 0) > 0, `messages[${i}]`, m.text, 'needs text or an image');
  }
  checkSampling(o);
  const c = manifest.sampling.chat;
  if (o.repetitionPenalty !== undefined) {
    check(Number.isFinite(o.repetitionPenalty) && o.repetitionPenalty > 0, 'repetitionPenalty', o.repetitionPenalty, 'must be a positive number');
  }
  const maxNewTokens = o.maxNewTokens ?? c.maxNewTokens;
  check(Number.isInteger(maxNewTokens) && maxNewTokens >= 1, 'maxNewTokens', maxNewTokens, 'must be a positive integer');
  const views = o.views ?? c.views;
  checkViews(views);
  return {
    maxNewTokens,
    views,
    seed: o.seed ?? randomSeed(),
    llm: {
      temperature: o.temperature ?? c.temperature,
      topK: o.topK ?? c.topK,
      topP: o.topP ?? c.topP,
      repetitionPenalty: o.repetitionPenalty ?? c.repetitionPenalty,
    },
  };
}

export interface ResolvedVary {
  scale: number;
  seed: number;
  previewEveryRows: number;
  detok: { cfgScale: number; cfgMinP?: number; temperature: number; topK: number; topP: number };
}

export function resolveVary(manifest: Manifest, o: VaryOptions): ResolvedVary {
  checkSampling(o);
  const scale = o.scale ?? manifest.components.tatok?.config.defaultPoolScale ?? 1;
  checkScale(manifest, scale);
  const previewEveryRows = o.previewEveryRows ?? 1;
  check(Number.isInteger(previewEveryRows) && previewEveryRows >= 0, 'previewEveryRows', previewEveryRows, 'must be an integer ≥ 0');
  const detok = resolveDetok(manifest, o);
  return {
    scale,
    seed: o.seed ?? randomSeed(),
    previewEveryRows,
    detok: {
      ...detok,
      temperature: o.temperature ?? detok.temperature,
      topK: o.topK ?? detok.topK,
      topP: o.topP ?? detok.topP,
    },
  };
}
