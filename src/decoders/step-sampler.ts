// The sampling end of one decoder step, without downloading logits: the last position's row of each batch
// row is copied out of the ORT logits GPU buffer [B, T, V] (B: one sequence; guidance's conditional and
// unconditional rows; or one row per test-time view) into a preallocated scratch buffer [B, V], views are combined into their mean log-probabilities (src/kernels/log-prob-mean.ts), the
// GPU sampler (src/kernels/sample.ts) draws into a preallocated ids buffer, and only 4 bytes per output row
// are read back. One StepSampler serves one generation; `release` returns its buffers to the pool. It does
// not run the graph or own the logits tensor.
import { InvalidInputError } from '../errors.ts';
import type { CommandRecorder, GpuContext } from '../gpu/context.ts';
import { recordLogProbMean } from '../kernels/log-prob-mean.ts';
import { recordRepetitionPenalty, type PenaltyTokens } from '../kernels/repetition-penalty.ts';
import { recordSample, SAMPLE_NO_TOKEN } from '../kernels/sample.ts';
import type { SampleSettings } from '../kernels/sample-reference.ts';
import type { ort } from '../ort/session.ts';

/** Hugging Face's repetition penalty over the ids in `tokens`. */
export interface RepetitionPenalty {
  tokens: PenaltyTokens;
  value: number;
}

export class StepSampler {
  /** Last-position logits [batch, vocab] f32. */
  private readonly scratch: GPUBuffer;
  /** Sampled ids, one u32 per output row. */
  private readonly ids: GPUBuffer;
  private released = false;

  constructor(
    private readonly ctx: GpuContext,
    readonly batch: number,
    readonly vocab: number,
    private readonly outputRows: number,
    /** The rows are views of one sequence: each draw is from the mean of their log-probabilities. */
    private readonly meanOfViews = false,
  ) {
    this.scratch = ctx.pool.acquire(batch * vocab * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, 'decoder.lastLogits');
    this.ids = ctx.pool.acquire(outputRows * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'decoder.ids');
  }

  /** Draws one id per output row from the last position of `logits` [batch, T, vocab] (a GPU tensor), after the
   *  repetition penalty when one is given. */
  async sample(logits: ort.Tensor, settings: SampleSettings, uniforms: readonly number[], penalty?: RepetitionPenalty): Promise<number[]> {
    const rec = this.ctx.recorder('decoder.sample');
    this.gatherLast(rec, logits);
    if (penalty) recordRepetitionPenalty(this.ctx, rec, this.scratch, this.batch, this.vocab, penalty.tokens, penalty.value);
    if (this.meanOfViews) recordLogProbMean(this.ctx, rec, { rows: this.batch, vocab: this.vocab }, this.scratch);
    const rows = this.meanOfViews ? 1 : this.batch;
    recordSample(this.ctx, rec, { batch: rows, vocab: this.vocab }, settings, this.scratch, uniforms, this.ids);
    const bytes = this.outputRows * 4;
    const staging = rec.copyToStaging(this.ids, 0, bytes);
    rec.submit();
    const ids = Array.from(new Uint32Array(await this.ctx.mapStaging(staging, bytes)));
    if (ids.includes(SAMPLE_NO_TOKEN)) throw new InvalidInputError('decoder: no finite logit in the token range');
    return ids;
  }

  /** The last-position logits [batch, vocab] read back through the scratch buffer, penalised when a penalty is
   *  given (for parity tests). */
  async read(logits: ort.Tensor, penalty?: RepetitionPenalty): Promise<Float32Array> {
    const rec = this.ctx.recorder('decoder.readLogits');
    this.gatherLast(rec, logits);
    if (penalty) recordRepetitionPenalty(this.ctx, rec, this.scratch, this.batch, this.vocab, penalty.tokens, penalty.value);
    const bytes = this.batch * this.vocab * 4;
    const staging = rec.copyToStaging(this.scratch, 0, bytes);
    rec.submit();
    return new Float32Array(await this.ctx.mapStaging(staging, bytes));
  }

  /** Runs each call in turn and reads back its last-position logits [batch, vocab] (parity tests); every
   *  logits tensor goes to `dispose` once read. */
  async readEach(calls: Iterable<() => Promise<ort.Tensor>>, dispose: (logits: ort.Tensor) => void): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const call of calls) {
      const logits = await call();
      try {
        out.push(await this.read(logits));
      } finally {
        dispose(logits);
      }
    }
    return out;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.pool.release(this.scratch);
    this.ctx.pool.release(this.ids);
  }

  /** Records the copies of row (b, T − 1, :) of the logits [batch, T, vocab] to row b of the scratch buffer. */
  private gatherLast(rec: CommandRecorder, logits: ort.Tensor): void {
    const [batch, tokens, vocab] = logits.dims as [number, number, number];
    if (logits.dims.length !== 3 || vocab !== this.vocab || tokens < 1 || batch !== this.batch) {
      throw new Error(`decoder: logits of shape [${logits.dims.join(', ')}], expected [${this.batch}, T, ${this.vocab}]`);
    }
    if (logits.location !== 'gpu-buffer') throw new Error(`decoder: logits are on ${logits.location}, not the GPU`);
    const source = logits.gpuBuffer as GPUBuffer;
    const row = this.vocab * 4;
    for (let b = 0; b < batch; b++) rec.copy(source, (b * tokens + tokens - 1) * row, this.scratch, b * row, row);
  }
}
