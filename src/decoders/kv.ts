// The KV-cache state of an ORT decoder graph (docs/model-format.md "KV-cached decoder graphs"), kept on the
// GPU: the `present.{i}.key/value` outputs of one run (GPU tensors, the session is created with
// preferredOutputLocation 'gpu-buffer') are fed as `past_key_values.{i}.key/value` of the next run, and the
// previous past is disposed once the run that consumed it has returned, so the number of live tensors stays
// constant over steps. Also the int64 feeds every step needs (attention_mask, position_ids), for rows that may
// start with left padding (sequences of different lengths in one batch). It does not run the session or sample;
// the decoders (llm.ts, ardtok.ts) do.
import { ort } from '../ort/session.ts';

export interface KvShape {
  layers: number;
  batch: number;
  kvHeads: number;
  headDim: number;
  /** Per row: how many positions at the start of the first run are padding (masked out, never attended to);
   *  all 0 when absent. */
  leftPadding?: readonly number[];
}

/** Counts the GPU tensors a decoder holds (KV presents, logits, embeddings): tests check it returns to zero
 *  after a generation and does not grow over steps. */
export class TensorLedger {
  private readonly held = new Set<ort.Tensor>();

  adopt(tensor: ort.Tensor): ort.Tensor {
    this.held.add(tensor);
    return tensor;
  }

  dispose(tensor: ort.Tensor): void {
    if (this.held.delete(tensor)) tensor.dispose();
  }

  /** Disposes every tensor of an ORT result. */
  disposeAll(outputs: Record<string, ort.Tensor>): void {
    for (const tensor of Object.values(outputs)) this.dispose(tensor);
  }

  get live(): number {
    return this.held.size;
  }
}

export const pastName = (layer: number, kind: 'key' | 'value'): string => `past_key_values.${layer}.${kind}`;
export const presentName = (layer: number, kind: 'key' | 'value'): string => `present.${layer}.${kind}`;

/** The graph input and output names of a KV cache with `layers` layers. */
export function kvNames(layers: number): { inputs: string[]; outputs: string[] } {
  const inputs: string[] = [];
  const outputs: string[] = [];
  for (let i = 0; i < layers; i++) {
    for (const kind of ['key', 'value'] as const) {
      inputs.push(pastName(i, kind));
      outputs.push(presentName(i, kind));
    }
  }
  return { inputs, outputs };
}

export class KvCache {
  /** P: positions already in the cache. */
  private pastLength = 0;
  /** The past fed to the next run: empty CPU tensors [B, kvHeads, 0, headDim] before the first run. */
  private past: Record<string, ort.Tensor> = {};

  constructor(
    readonly shape: KvShape,
    private readonly ledger: TensorLedger,
  ) {
    const { layers, batch, kvHeads, headDim, leftPadding } = shape;
    if (leftPadding && (leftPadding.length !== batch || leftPadding.some((n) => !Number.isInteger(n) || n < 0))) {
      throw new Error(`KV cache: left padding [${leftPadding.join(', ')}] must be ${batch} non-negative integers`);
    }
    for (const name of kvNames(layers).inputs) {
      this.past[name] = new ort.Tensor('float32', new Float32Array(0), [batch, kvHeads, 0, headDim]);
    }
  }

  get length(): number {
    return this.pastLength;
  }

  /** Feeds for a run of `tokens` new positions: the past, attention_mask [B, P + T] (row b: 0 over its first
   *  pad_b positions, 1 after) and position_ids [B, T] = P + arange(T) − pad_b (0 on padding), so a padded row
   *  sees exactly what it would alone. */
  feeds(tokens: number): Record<string, ort.Tensor> {
    const { batch } = this.shape;
    const total = this.pastLength + tokens;
    const mask = new BigInt64Array(batch * total).fill(1n);
    const positions = new BigInt64Array(batch * tokens);
    for (let b = 0; b < batch; b++) {
      const pad = this.shape.leftPadding?.[b] ?? 0;
      mask.fill(0n, b * total, b * total + Math.min(pad, total));
      for (let t = 0; t < tokens; t++) positions[b * tokens + t] = BigInt(Math.max(0, this.pastLength + t - pad));
    }
    return {
      ...this.past,
      attention_mask: new ort.Tensor('int64', mask, [batch, total]),
      position_ids: new ort.Tensor('int64', positions, [batch, tokens]),
    };
  }

  /** Takes the presents [B, kvHeads, P + T, headDim] of the run that consumed `feeds(tokens)` (already adopted by
   *  the ledger) as the next past and disposes the previous one. */
  advance(outputs: Record<string, ort.Tensor>, tokens: number): void {
    const { layers, batch, kvHeads, headDim } = this.shape;
    const expected = [batch, kvHeads, this.pastLength + tokens, headDim];
    const next: Record<string, ort.Tensor> = {};
    for (let i = 0; i < layers; i++) {
      for (const kind of ['key', 'value'] as const) {
        const present = outputs[presentName(i, kind)];
        if (!present) throw new Error(`KV cache: the run returned no ${presentName(i, kind)}`);
        if (present.location !== 'gpu-buffer') throw new Error(`KV cache: ${presentName(i, kind)} is on ${present.location}, not the GPU`);
        if (present.dims.join(',') !== expected.join(',')) {
          throw new Error(`KV cache: ${presentName(i, kind)} has shape [${present.dims.join(', ')}], expected [${expected.join(', ')}]`);
        }
        next[pastName(i, kind)] = present;
      }
    }
    for (const tensor of Object.values(this.past)) this.ledger.dispose(tensor);
    this.past = next;
    this.pastLength += tokens;
  }

  /** Disposes the cache's GPU tensors; the cache is empty afterwards. */
  dispose(): void {
    for (const tensor of Object.values(this.past)) this.ledger.dispose(tensor);
    this.past = {};
    this.pastLength = 0;
  }
}
