// ArDetokenizer: the AR de-tokenizer (LLAMA-ABS, TAR_SPEC §3) on onnxruntime-web: TA-Tok decoder features
// [N, condDim] → VQ codes in raster order, with classifier-free guidance as batch 2 (row 0 the condition, row 1
// a zero condition; at guidance scale 1 only row 0 runs, since l_u + 1·(l_c − l_u) is l_c), the KV cache kept on
// the GPU (kv.ts) and each code drawn by the GPU sampler from the guidance-combined logits (step-sampler.ts). It
// does not decode codes to pixels (src/models/vqdecoder.ts).
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { SampleSettings } from '../kernels/sample-reference.ts';
import type { ArdtokComponent, Sampling } from '../model/manifest.ts';
import type { ModelSource } from '../model/source.ts';
import { ort, runSession } from '../ort/session.ts';
import { expectGraphIo, loadGraph } from './graph.ts';
import { KvCache, kvNames, TensorLedger } from './kv.ts';
import type { UniformSource } from './llm.ts';
import { StepSampler } from './step-sampler.ts';

export interface DetokSampling {
  cfgScale: number;
  /** With guidance: only codes whose conditional probability is at least this share of the most probable one's
   *  are drawn (sample-reference.ts); absent: every code. */
  cfgMinP?: number;
  temperature: number;
  topK: number;
  topP: number;
}

/** CFG batch: row 0 conditional, row 1 unconditional. */
const GUIDED_BATCH = 2;
const GUIDANCE_PAIRS: ReadonlyArray<readonly [number, number]> = [[0, 1]];

export class ArDetokenizer {
  /** GPU tensors held right now (KV cache, embeddings, logits); 0 between calls. */
  readonly ledger = new TensorLedger();

  private constructor(
    private readonly ctx: GpuContext,
    private readonly conditionEmbed: ort.InferenceSession,
    private readonly tokenEmbed: ort.InferenceSession,
    private readonly model: ort.InferenceSession,
    private readonly ardtok: ArdtokComponent,
    /** The package's sampling.detokenizer. */
    readonly defaultSampling: DetokSampling,
  ) {}

  static async load(ctx: GpuContext, source: ModelSource): Promise<ArDetokenizer> {
    const ardtok = source.manifest.components.ardtok;
    if (!ardtok) throw new InvalidInputError(`model package ${source.id} has no ardtok component`);
    const gpu = { preferredOutputLocation: 'gpu-buffer' as const };
    const conditionEmbed = await loadGraph(ctx, source, ardtok.files, 'conditionEmbed', gpu);
    const tokenEmbed = await loadGraph(ctx, source, ardtok.files, 'tokenEmbed', gpu);
    const model = await loadGraph(ctx, source, ardtok.files, 'model', gpu);
    expectGraphIo(conditionEmbed, 'ardtok/condition_embed', ['condition'], ['embeds']);
    expectGraphIo(tokenEmbed, 'ardtok/token_embed', ['input_ids'], ['embeds']);
    const kv = kvNames(ardtok.config.layers);
    expectGraphIo(model, 'ardtok/model', ['inputs_embeds', 'attention_mask', 'position_ids', ...kv.inputs], ['logits', ...kv.outputs]);
    const defaults: Sampling['detokenizer'] = source.manifest.sampling.detokenizer;
    return new ArDetokenizer(ctx, conditionEmbed, tokenEmbed, model, ardtok, { ...defaults });
  }

  /** Side of the VQ code grid (codes = gridSize² = maxSeqLen). */
  get gridSize(): number {
    return this.ardtok.config.gridSize;
  }

  /** features [N, condDim] (N ≤ maxPrefixLen) → `tokens` VQ codes (default maxSeqLen), raster order; each code is
   *  drawn from l_u + cfgScale·(l_c − l_u), among the codes cfgMinP keeps, and fed to both rows (at cfgScale 1
   *  from l_c, the conditional row alone). `sampling` fields left out take the package defaults. onCode(code, i)
   *  per code. */
  async generate(
    features: Float32Array,
    tokens: number | undefined,
    sampling: Partial<DetokSampling> | undefined,
    random: UniformSource,
    onCode?: (code: number, i: number) => void,
    signal?: AbortSignal,
  ): Promise<Uint32Array> {
    const { maxSeqLen, vocabSize } = this.ardtok.config;
    const count = tokens ?? maxSeqLen;
    if (!Number.isInteger(count) || count < 1 || count > maxSeqLen) {
      throw new InvalidArgumentError(`tokens ${count} must be an integer in [1, ${maxSeqLen}] (maxSeqLen)`);
    }
    const { cfgScale, cfgMinP, ...rest } = { ...this.defaultSampling, ...sampling };
    const guided = cfgScale !== 1;
    const batch = guided ? GUIDED_BATCH : 1;
    const guidance = { scale: cfgScale, pairs: GUIDANCE_PAIRS, ...(cfgMinP !== undefined ? { condMinP: cfgMinP } : {}) };
    const settings: SampleSettings = guided ? { ...rest, guidance } : rest;
    const prefix = this.checkFeatures(features);
    signal?.throwIfAborted();
    const kv = this.cache(batch);
    const sampler = new StepSampler(this.ctx, batch, vocabSize, 1);
    const codes = new Uint32Array(count);
    try {
      let logits = await this.prefill(features, prefix, kv);
      for (let i = 0; ; i++) {
        let code: number;
        try {
          signal?.throwIfAborted();
          [code] = (await sampler.sample(logits, settings, [random()])) as [number];
        } finally {
          this.ledger.dispose(logits);
        }
        codes[i] = code;
        onCode?.(code, i);
        if (i + 1 === count) return codes;
        signal?.throwIfAborted();
        logits = await this.feed(code, kv);
      }
    } finally {
      kv.dispose();
      sampler.release();
    }
  }

  /** For parity tests: prefill with `features`, then feed each of `tokenIds` to both rows; returns the
   *  last-position logits [2, vocabSize] (row 0 conditional, row 1 unconditional) of every call. */
  async lastLogits(features: Float32Array, tokenIds: number[]): Promise<Float32Array[]> {
    const prefix = this.checkFeatures(features);
    const kv = this.cache(GUIDED_BATCH);
    const sampler = new StepSampler(this.ctx, GUIDED_BATCH, this.ardtok.config.vocabSize, 1);
    const calls = [() => this.prefill(features, prefix, kv), ...tokenIds.map((id) => () => this.feed(id, kv))];
    try {
      return await sampler.readEach(calls, (logits) => this.ledger.dispose(logits));
    } finally {
      kv.dispose();
      sampler.release();
    }
  }

  async release(): Promise<void> {
    for (const session of [this.conditionEmbed, this.tokenEmbed, this.model]) await session.release();
  }

  /** N, the prefix length of `features` [N, condDim]; InvalidInputError when the shape or values are unusable. */
  private checkFeatures(features: Float32Array): number {
    const { condDim, maxPrefixLen } = this.ardtok.config;
    const n = features.length / condDim;
    if (!Number.isInteger(n) || n < 1 || n > maxPrefixLen) {
      throw new InvalidInputError(`features of ${features.length} values are not [N, ${condDim}] with 1 ≤ N ≤ ${maxPrefixLen} (maxPrefixLen)`);
    }
    for (let i = 0; i < features.length; i++) {
      if (!Number.isFinite(features[i])) throw new InvalidInputError(`features[${i}] = ${features[i]} is not finite`);
    }
    return n;
  }

  /** A KV cache of `batch` rows: 2 with guidance, 1 without. */
  private cache(batch: number): KvCache {
    const { layers, kvHeads, headDim } = this.ardtok.config;
    return new KvCache({ layers, batch, kvHeads, headDim }, this.ledger);
  }

  /** condition [B, N, condDim] = [features, zeros][:B] → embeds → the model at positions 0..N−1 (empty past). */
  private async prefill(features: Float32Array, prefix: number, kv: KvCache): Promise<ort.Tensor> {
    const { condDim } = this.ardtok.config;
    const { batch } = kv.shape;
    const condition = new Float32Array(batch * prefix * condDim);
    condition.set(features);
    const result = await runSession(this.conditionEmbed, { condition: new ort.Tensor('float32', condition, [batch, prefix, condDim]) });
    return this.forward(this.adoptEmbeds(result), prefix, kv);
  }

  /** input_ids [B, 1] = [[code], …] → embeds → the model at position P. */
  private async feed(code: number, kv: KvCache): Promise<ort.Tensor> {
    const { batch } = kv.shape;
    const ids = new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(code)), [batch, 1]);
    return this.forward(this.adoptEmbeds(await runSession(this.tokenEmbed, { input_ids: ids })), 1, kv);
  }

  private adoptEmbeds(result: ort.InferenceSession.ReturnType): ort.Tensor {
    for (const tensor of Object.values(result)) this.ledger.adopt(tensor);
    return result.embeds as ort.Tensor;
  }

  /** One model call on `embeds` [B, T, dim] (disposed here); the cache advances; returns logits [B, T, vocab]. */
  private async forward(embeds: ort.Tensor, tokens: number, kv: KvCache): Promise<ort.Tensor> {
    let outputs: Record<string, ort.Tensor>;
    try {
      outputs = (await runSession(this.model, { ...kv.feeds(tokens), inputs_embeds: embeds })) as Record<string, ort.Tensor>;
    } finally {
      this.ledger.dispose(embeds);
    }
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
