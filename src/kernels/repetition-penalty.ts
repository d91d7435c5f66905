// The repetition penalty of Hugging Face's RepetitionPenaltyLogitsProcessor, on the GPU
// (shaders/repetition_penalty.wgsl), and its CPU reference. `PenaltyTokens` keeps the distinct ids seen so far
// in a GPU list that grows by appending, so a step uploads at most one new id. Applied to the last-position
// logits before temperature, top-k and top-p, as in transformers' generate().
import source from '../../shaders/repetition_penalty.wgsl?raw';
import { InvalidArgumentError } from '../errors.ts';
import { foldWorkgroups, type CommandRecorder, type GpuContext } from '../gpu/context.ts';
import type { KernelDefinition } from '../gpu/kernel.ts';

export const repetitionPenaltyKernel: KernelDefinition = { name: 'repetition_penalty', source, entryPoint: 'main' };

const WORKGROUP_SIZE = 64;

export function checkPenalty(penalty: number): void {
  if (!(Number.isFinite(penalty) && penalty > 0)) throw new InvalidArgumentError(`repetition penalty ${penalty} must be a positive number`);
}

/** The distinct token ids of a sequence, on the GPU; `capacity` bounds how many may be added. */
export class PenaltyTokens {
  readonly buffer: GPUBuffer;
  private readonly seen = new Set<number>();

  constructor(
    private readonly ctx: GpuContext,
    readonly capacity: number,
  ) {
    this.buffer = ctx.pool.acquire(Math.max(1, capacity) * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, 'repetition_penalty.ids');
  }

  get count(): number {
    return this.seen.size;
  }

  add(ids: Iterable<number>): void {
    const fresh: number[] = [];
    for (const id of ids) {
      if (this.seen.has(id)) continue;
      if (this.seen.size >= this.capacity) throw new InvalidArgumentError(`repetition penalty: more than ${this.capacity} distinct ids`);
      this.seen.add(id);
      fresh.push(id);
    }
    if (fresh.length > 0) this.ctx.device.queue.writeBuffer(this.buffer, (this.seen.size - fresh.length) * 4, Uint32Array.from(fresh));
  }

  release(): void {
    this.ctx.pool.release(this.buffer);
  }
}

/** Records the penalty on `logits` [rows, vocab] (f32, in place) for the ids in `tokens`. */
export function recordRepetitionPenalty(
  ctx: GpuContext,
  rec: CommandRecorder,
  logits: GPUBuffer,
  rows: number,
  vocab: number,
  tokens: PenaltyTokens,
  penalty: number,
): void {
  checkPenalty(penalty);
  if (penalty === 1 || tokens.count === 0) return;
  const workgroups = Math.ceil((rows * tokens.count) / WORKGROUP_SIZE);
  rec.dispatch({
    kernel: repetitionPenaltyKernel,
    spec: { constants: { WORKGROUP_SIZE } },
    uniforms: { rows, vocab, count: tokens.count, penalty },
    bindings: [logits, tokens.buffer],
    workgroups: foldWorkgroups(workgroups, ctx.info.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** CPU reference: a penalised copy of `logits` [rows, vocab] for the ids in `ids` (duplicates allowed). */
export function repetitionPenaltyReference(logits: Float32Array, vocab: number, ids: Iterable<number>, penalty: number): Float32Array {
  checkPenalty(penalty);
  const out = logits.slice();
  const distinct = new Set(ids);
  for (let row = 0; row < logits.length / vocab; row++) {
    for (const id of distinct) {
      if (id < 0 || id >= vocab) continue;
      const value = logits[row * vocab + id] as number;
      out[row * vocab + id] = value < 0 ? Math.fround(value * penalty) : Math.fround(value / penalty);
    }
  }
  return out;
}
