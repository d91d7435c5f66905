// LlmDecoder: autoregressive generation with the Tar LLM (Qwen2, TAR_SPEC §2) on onnxruntime-web, the KV cache
// kept on the GPU (kv.ts) and every token drawn by the GPU sampler (step-sampler.ts): image tokens for
// text-to-image (exactly grid(scale)² tokens, only image-token ids) and text until <|im_end|>/eos; and how likely
// the model finds a given answer (imagine's self-check). Prompt ids come from the tokenizer (src/tokenizer/); this
// module neither tokenizes nor decodes text.
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { checkPenalty, PenaltyTokens } from '../kernels/repetition-penalty.ts';
import type { SampleSettings } from '../kernels/sample-reference.ts';
import { pooledGrid, type LlmComponent, type TatokConfig } from '../model/manifest.ts';
import type { ModelSource } from '../model/source.ts';
import { checkViews } from '../models/views.ts';
import { ort, runSession } from '../ort/session.ts';
import { answerLogProb } from './answer-score.ts';
import { expectGraphIo, loadGraph } from './graph.ts';
import { KvCache, kvNames, TensorLedger } from './kv.ts';
import { StepSampler } from './step-sampler.ts';

/** Guidance's rows in the sampler's batch: [conditional, unconditional]. */
const GUIDANCE_PAIRS: ReadonlyArray<readonly [number, number]> = [[0, 1]];

export interface TokenSampling {
  temperature: number;
  topK: number;
  topP: number;
  /** Hugging Face's repetition penalty over prompt and generated ids (text generation only); 1 = off. */
  repetitionPenalty?: number;
}

/** Image-token sampling; with `guidance`, each token is drawn from l_u + scale·(l_c − l_u), where l_u are the
 *  logits of a second sequence (the negative prompt's ids, ending like the prompt in <im_start><S{s}>) that
 *  runs beside the prompt in one batch (the shorter of the two left-padded) and is fed the same tokens; with condMinP, only among the tokens whose
 *  conditional probability is at least condMinP times the most probable one's (sample-reference.ts). */
export interface ImageSampling extends TokenSampling {
  guidance?: { scale: number; negativePromptIds: number[]; condMinP?: number };
}

/** The next uniform u in [0, 1). */
export type UniformSource = () => number;

export class LlmDecoder {
  /** GPU tensors held right now (KV cache, logits); 0 between calls. */
  readonly ledger = new TensorLedger();

  private constructor(
    private readonly ctx: GpuContext,
    private readonly session: ort.InferenceSession,
    private readonly llm: LlmComponent,
    private readonly tatok: TatokConfig | undefined,
  ) {}

  static async load(ctx: GpuContext, source: ModelSource): Promise<LlmDecoder> {
    const llm = source.manifest.components.llm;
    if (!llm) throw new InvalidInputError(`model package ${source.id} has no llm component`);
    const session = await loadGraph(ctx, source, llm.files, 'model', { preferredOutputLocation: 'gpu-buffer' });
    const kv = kvNames(llm.config.layers);
    expectGraphIo(session, 'llm/model', ['input_ids', 'attention_mask', 'position_ids', ...kv.inputs], ['logits', ...kv.outputs]);
    return new LlmDecoder(ctx, session, llm, source.manifest.components.tatok?.config);
  }

  /** Exactly grid(scale)² image tokens after `promptIds` (which end in <im_start><S{scale-1}>), each drawn only
   *  among the image-token ids and fed back; onToken(k, i) per token. Returns the codebook indices k. */
  async generateImage(
    promptIds: number[],
    scale: number,
    sampling: ImageSampling,
    random: UniformSource,
    onToken?: (k: number, i: number) => void,
    signal?: AbortSignal,
  ): Promise<Uint32Array> {
    const { tokens } = this.llm;
    const count = this.imageTokenCount(scale);
    const tail = [tokens.imageStartTag, tokens.scaleTokenBase + scale - 1];
    const { guidance, ...rest } = sampling;
    const prompts = guidance ? [promptIds, guidance.negativePromptIds] : [promptIds];
    for (const [i, ids] of prompts.entries()) {
      if (ids.length < 2 || ids[ids.length - 2] !== tail[0] || ids[ids.length - 1] !== tail[1]) {
        const which = i === 0 ? 'image prompt' : 'negative image prompt';
        throw new InvalidInputError(`a scale-${scale} ${which} must end in <im_start><S${scale - 1}> (ids ${tail.join(', ')}); it ends in ${ids.slice(-2).join(', ')}`);
      }
    }
    const base = tokens.imageTokenBase;
    const settings: SampleSettings = {
      ...rest,
      range: { lo: base, hi: base + tokens.imageTokenCount },
      ...(guidance ? { guidance: { scale: guidance.scale, pairs: GUIDANCE_PAIRS, condMinP: guidance.condMinP } } : {}),
    };
    const ids = await this.generate(prompts, count, settings, random, () => false, (id, i) => onToken?.(id - base, i), signal);
    return Uint32Array.from(ids, (id) => id - base);
  }

  /** Text until <|im_end|>/eos (included as the last id) or maxNewTokens; onToken(id) per token. Returns the
   *  new ids. Temperature 0 is greedy. `prompts`: one per test-time view (the same conversation with its pictures
   *  read at each view, src/models/views.ts), run as one batch; every token is drawn from the mean of the views'
   *  log-probabilities (log_softmax of each view's logits, after the repetition penalty, whose ids are then every
   *  view's prompt and the new ids) and fed to all. One prompt: its own logits. */
  async generateText(
    prompts: ReadonlyArray<number[]>,
    maxNewTokens: number,
    sampling: TokenSampling,
    random: UniformSource,
    onToken?: (id: number) => void,
    signal?: AbortSignal,
  ): Promise<number[]> {
    checkViews(prompts.length);
    const stops = new Set([this.llm.tokens.imEnd, ...this.llm.tokens.eos]);
    const { repetitionPenalty, ...settings } = sampling;
    return this.generate(prompts, maxNewTokens, settings, random, (id) => stops.has(id), (id) => onToken?.(id), signal, repetitionPenalty);
  }

  /** log p(answerIds | promptIds): each answer id's natural-log probability after the prompt and the answer ids
   *  before it, summed (one prefill of the prompt, one call over the answer; only the answer's logits rows
   *  [answer, vocab] are read back). How imagine's self-check weighs its candidates. */
  async answerLogProb(promptIds: number[], answerIds: number[], signal?: AbortSignal): Promise<number> {
    if (answerIds.length === 0) throw new InvalidArgumentError('an answer to score needs at least one id');
    this.checkPrompt([...promptIds, ...answerIds], answerIds.length, promptIds.length);
    signal?.throwIfAborted();
    const kv = this.cache();
    try {
      const head = promptIds.slice(0, -1);
      if (head.length > 0) this.ledger.dispose(await this.forward([head], kv));
      signal?.throwIfAborted();
      // The prompt's last id and every answer id but the last: their logits rows predict the answer ids.
      const logits = await this.forward([[promptIds[promptIds.length - 1] as number, ...answerIds.slice(0, -1)]], kv); // [1, A, V]
      try {
        return answerLogProb((await logits.getData()) as Float32Array, this.llm.config.vocabSize, answerIds);
      } finally {
        this.ledger.dispose(logits);
      }
    } finally {
      kv.dispose();
    }
  }

  /** Image tokens of pool scale `scale`: grid(scale)² (InvalidArgumentError for a scale the package lacks). */
  imageTokenCount(scale: number): number {
    if (!this.tatok) throw new InvalidArgumentError('image generation needs the tatok component in the package (its grid sets the token count)');
    if (!this.tatok.poolScales.includes(scale)) {
      throw new InvalidArgumentError(`unknown scale ${scale}: the package has pool scales ${this.tatok.poolScales.join(', ')}`);
    }
    return pooledGrid(this.tatok, scale) ** 2;
  }

  /** Positions the model can hold (maxPositionEmbeddings). */
  get maxContext(): number {
    return this.llm.config.maxPositionEmbeddings;
  }

  /** InvalidArgumentError when a sequence of `positions` (prompt + new tokens) exceeds the context. */
  checkContext(positions: number): void {
    if (positions > this.maxContext) {
      throw new InvalidArgumentError(`${positions} positions (prompt + new tokens) exceed the context of ${this.maxContext} positions`);
    }
  }

  /** For parity tests: feeds steps[0] (prefill, empty past), then each further step on the cache, and returns the
   *  last-position logits [vocabSize] of every call, read back through the sampler's scratch buffer. */
  async lastLogits(steps: number[][]): Promise<Float32Array[]> {
    const total = steps.reduce((n, s) => n + s.length, 0);
    this.checkPrompt(steps.flat(), 0, total);
    const kv = this.cache();
    const sampler = new StepSampler(this.ctx, 1, this.llm.config.vocabSize, 1);
    try {
      return await sampler.readEach(
        steps.map((ids) => () => this.forward([ids], kv)),
        (logits) => this.ledger.dispose(logits),
      );
    } finally {
      kv.dispose();
      sampler.release();
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** A KV cache for `batch` sequences that advance together. */
  private cache(batch = 1, leftPadding?: readonly number[]): KvCache {
    const { layers, kvHeads, headDim } = this.llm.config;
    return new KvCache({ layers, batch, kvHeads, headDim, leftPadding }, this.ledger);
  }

  private checkPrompt(ids: number[], newTokens: number, promptLength = ids.length): void {
    const { vocabSize } = this.llm.config;
    if (promptLength === 0) throw new InvalidInputError('the prompt is empty');
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new InvalidInputError(`prompt id ${bad} is outside the vocabulary [0, ${vocabSize})`);
    this.checkContext(promptLength + newTokens);
  }

  /** Samples up to `maxNew` tokens, each fed back to every sequence of `prompts`: one; two for guidance (row 0
   *  conditional, row 1 unconditional); or several views, drawn from the mean of their log-probabilities. The
   *  prompts run as one batch on one cache, one graph call a step, the shorter ones left-padded with <pad> (masked
   *  out, positions counted from each prompt's first id, kv.ts). Stops after a token for which `stop` is true.
   *  With a repetition penalty ≠ 1, every prompt's ids and the generated ids are penalised in each row before
   *  each draw. */
  private async generate(
    prompts: ReadonlyArray<number[]>,
    maxNew: number,
    settings: SampleSettings,
    random: UniformSource,
    stop: (id: number) => boolean,
    onToken: (id: number, i: number) => void,
    signal: AbortSignal | undefined,
    repetitionPenalty = 1,
  ): Promise<number[]> {
    if (!Number.isInteger(maxNew) || maxNew < 1) throw new InvalidArgumentError(`maxNewTokens ${maxNew} must be a positive integer`);
    checkPenalty(repetitionPenalty);
    for (const ids of prompts) this.checkPrompt(ids, maxNew);
    signal?.throwIfAborted();
    const length = Math.max(...prompts.map((p) => p.length));
    const padding = prompts.map((p) => length - p.length);
    const kv = this.cache(prompts.length, padding);
    const sampler = new StepSampler(this.ctx, prompts.length, this.llm.config.vocabSize, 1, !settings.guidance && prompts.length > 1);
    // Sized for the whole context, so every call asks the pool for the same buffer size and reuses it.
    const penalty = repetitionPenalty === 1 ? undefined : { tokens: new PenaltyTokens(this.ctx, this.maxContext), value: repetitionPenalty };
    penalty?.tokens.add(prompts.flat());
    const out: number[] = [];
    try {
      let inputs = prompts.map((p, i) => [...new Array<number>(padding[i] as number).fill(this.llm.tokens.pad), ...p]);
      while (out.length < maxNew) {
        signal?.throwIfAborted();
        const logits = await this.forward(inputs, kv); // [B, T, vocab]
        let id: number;
        try {
          signal?.throwIfAborted();
          [id] = (await sampler.sample(logits, settings, [random()], penalty)) as [number];
        } finally {
          this.ledger.dispose(logits);
        }
        out.push(id);
        penalty?.tokens.add([id]);
        onToken(id, out.length - 1);
        if (stop(id)) break;
        inputs = prompts.map(() => [id]);
      }
      return out;
    } finally {
      kv.dispose();
      sampler.release();
      penalty?.tokens.release();
    }
  }

  /** One graph call: `rows` [B, T] (B = the cache's batch, rows of one length) after the cached positions; the
   *  cache advances; returns the logits [B, T, vocabSize] GPU tensor (the caller disposes it through the ledger). */
  private async forward(rows: ReadonlyArray<number[]>, kv: KvCache): Promise<ort.Tensor> {
    const tokens = (rows[0] as number[]).length;
    const feeds = {
      ...kv.feeds(tokens),
      input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (id) => BigInt(id)), [rows.length, tokens]),
    };
    const outputs = (await runSession(this.session, feeds)) as Record<string, ort.Tensor>;
    for (const tensor of Object.values(outputs)) this.ledger.adopt(tensor);
    try {
      kv.advance(outputs, tokens);
    } catch (error) {
      this.ledger.disposeAll(outputs);
      throw error;
    }
    return outputs.logits as ort.Tensor;
  }
}
