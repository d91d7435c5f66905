// Benchmark: KV-cached attention (src/kernels/attention.ts) against the same computation on onnxruntime-web's
// WebGPU EP on the same device. Decode: one query token over L cached positions; prefill: T tokens at
// position P, causal. Both sides start with K/V resident on the GPU and q on the CPU, and both read the
// output back to the CPU in every timed run. ORT runs the contrib op MultiHeadAttention when it accepts the
// graph, otherwise the plain MatMul → Mul → (Add mask) → Softmax → MatMul graph; the row's baseline says
// which, and why an earlier one was passed over (a baseline whose output differs from ours by more than
// 1e-3 is not used). MultiHeadAttention needs as many KV heads as query heads, so both sides use 12 KV heads.
import { attentionFlops } from '../../src/kernels/attention-reference.ts';
import { KvCache, recordAttention } from '../../src/kernels/attention.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { OnnxGraphBuilder } from '../onnx-builder.ts';
import { benchRow, timeMedian } from '../timing.ts';
import type { BenchCase, BenchEnv, BenchRow } from '../types.ts';

const HEADS = 12;
const HEAD_DIM = 128;
const MASKED = -1e9;

interface Scenario {
  name: 'attention_decode' | 'attention_prefill';
  maxLen: number;
  position: number;
  tokens: number;
}

const scenarios: Scenario[] = [
  { name: 'attention_decode', maxLen: 1024, position: 1023, tokens: 1 },
  { name: 'attention_decode', maxLen: 4096, position: 4095, tokens: 1 },
  { name: 'attention_prefill', maxLen: 1024, position: 256, tokens: 64 },
];

/** MultiHeadAttention: query [1, T, H·D], key/value BNSH [1, H, L, D], additive mask [1, 1, T, L] when T > 1. */
function mhaGraph(s: Scenario, length: number, scale: number): Uint8Array {
  const g = new OnnxGraphBuilder('mha');
  g.input('q', 'float32', [1, s.tokens, HEADS * HEAD_DIM]);
  g.input('k', 'float32', [1, HEADS, length, HEAD_DIM]);
  g.input('v', 'float32', [1, HEADS, length, HEAD_DIM]);
  const inputs = ['q', 'k', 'v'];
  if (s.tokens > 1) {
    g.input('mask', 'float32', [1, 1, s.tokens, length]);
    inputs.push('', '', 'mask');
  }
  g.node('MultiHeadAttention', inputs, ['out'], { num_heads: HEADS, scale: { float: scale } }, 'com.microsoft');
  g.output('out', 'float32', [1, s.tokens, HEADS * HEAD_DIM]);
  return g.build();
}

/** Plain graph: q [1, H, T, D] · Kᵀ → ·scale → (+ mask [1, 1, T, L]) → Softmax → · V → [1, H, T, D]. */
function plainGraph(s: Scenario, length: number, scale: number): Uint8Array {
  const g = new OnnxGraphBuilder('attention');
  g.input('q', 'float32', [1, HEADS, s.tokens, HEAD_DIM]);
  g.input('k', 'float32', [1, HEADS, length, HEAD_DIM]);
  g.input('v', 'float32', [1, HEADS, length, HEAD_DIM]);
  g.initializer('scale', 'float32', [], [scale]);
  g.node('Transpose', ['k'], ['kT'], { perm: [0, 1, 3, 2] });
  g.node('MatMul', ['q', 'kT'], ['raw']);
  g.node('Mul', ['raw', 'scale'], ['scores']);
  let logits = 'scores';
  if (s.tokens > 1) {
    g.input('mask', 'float32', [1, 1, s.tokens, length]);
    g.node('Add', ['scores', 'mask'], ['masked']);
    logits = 'masked';
  }
  g.node('Softmax', [logits], ['probs'], { axis: -1 });
  g.node('MatMul', ['probs', 'v'], ['out']);
  g.output('out', 'float32', [1, HEADS, s.tokens, HEAD_DIM]);
  return g.build();
}

async function runScenario(env: BenchEnv, s: Scenario): Promise<BenchRow> {
  const { ctx, ort } = env;
  const random = new SeededRandom(s.maxLen + s.tokens);
  const length = s.position + s.tokens;
  const scale = 1 / Math.sqrt(HEAD_DIM);
  const shape = { batch: 1, kvHeads: HEADS, maxLen: s.maxLen, headDim: HEAD_DIM };
  const cache = new KvCache(ctx, shape, 'f32');
  const cacheKeys = random.normals(HEADS * s.maxLen * HEAD_DIM);
  const cacheValues = random.normals(HEADS * s.maxLen * HEAD_DIM);
  cache.fill(cacheKeys, cacheValues);
  // New tokens [1, T, H·D]; the cache copies at positions P.. hold the same numbers, so ORT (which does
  // not append) sees the same keys and values as our kernel after its append.
  const newKeys = new Float32Array(s.tokens * HEADS * HEAD_DIM);
  const newValues = new Float32Array(s.tokens * HEADS * HEAD_DIM);
  for (let t = 0; t < s.tokens; t++)
    for (let h = 0; h < HEADS; h++)
      for (let d = 0; d < HEAD_DIM; d++) {
        const at = (h * s.maxLen + s.position + t) * HEAD_DIM + d;
        newKeys[(t * HEADS + h) * HEAD_DIM + d] = cacheKeys[at] as number;
        newValues[(t * HEADS + h) * HEAD_DIM + d] = cacheValues[at] as number;
      }
  const q = random.normals(s.tokens * HEADS * HEAD_DIM);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const qBuffer = ctx.device.createBuffer({ size: q.byteLength, usage, label: 'bench.attention.q' });
  const kBuffer = ctx.upload(newKeys, GPUBufferUsage.STORAGE, 'bench.attention.k');
  const vBuffer = ctx.upload(newValues, GPUBufferUsage.STORAGE, 'bench.attention.v');
  const outBytes = q.byteLength;
  const out = ctx.device.createBuffer({ size: outBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: 'bench.attention.out' });
  const call = { qHeads: HEADS, tokens: s.tokens, position: s.position };

  let ours: Float32Array = new Float32Array(0);
  const oursTiming = await timeMedian(async () => {
    ctx.device.queue.writeBuffer(qBuffer, 0, q.buffer, q.byteOffset, q.byteLength);
    const rec = ctx.recorder('bench.attention');
    recordAttention(ctx, rec, cache, call, qBuffer, kBuffer, vBuffer, out);
    const staging = rec.copyToStaging(out, 0, outBytes);
    rec.submit();
    ours = new Float32Array(await ctx.mapStaging(staging, outBytes));
  }, { warmup: 2, runs: 7 });

  // ORT's K/V: the first `length` cache positions, [1, H, length, D], resident on the GPU.
  const ortKeys = new Float32Array(HEADS * length * HEAD_DIM);
  const ortValues = new Float32Array(HEADS * length * HEAD_DIM);
  for (let h = 0; h < HEADS; h++) {
    ortKeys.set(cacheKeys.subarray(h * s.maxLen * HEAD_DIM, (h * s.maxLen + length) * HEAD_DIM), h * length * HEAD_DIM);
    ortValues.set(cacheValues.subarray(h * s.maxLen * HEAD_DIM, (h * s.maxLen + length) * HEAD_DIM), h * length * HEAD_DIM);
  }
  const kvDims = [1, HEADS, length, HEAD_DIM];
  const ortK = ctx.upload(ortKeys, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'bench.attention.ort_k');
  const ortV = ctx.upload(ortValues, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'bench.attention.ort_v');
  const mask = new Float32Array(s.tokens * length);
  for (let t = 0; t < s.tokens; t++) for (let p = s.position + t + 1; p < length; p++) mask[t * length + p] = MASKED;
  // q [T, H, D] → [H, T, D] for the plain graph.
  const qHeadsFirst = new Float32Array(q.length);
  for (let t = 0; t < s.tokens; t++)
    for (let h = 0; h < HEADS; h++)
      qHeadsFirst.set(q.subarray((t * HEADS + h) * HEAD_DIM, (t * HEADS + h + 1) * HEAD_DIM), (h * s.tokens + t) * HEAD_DIM);

  const variants = [
    { label: 'ort-webgpu MultiHeadAttention (com.microsoft)', model: mhaGraph(s, length, scale), headsFirst: false },
    { label: 'ort-webgpu MatMul/Softmax/MatMul graph', model: plainGraph(s, length, scale), headsFirst: true },
  ];
  let baseline = '';
  let baselineMs = NaN;
  const rejected: string[] = [];
  for (const variant of variants) {
    try {
      // The session stays alive: ORT drops its device state when its last session is released.
      const session = await env.createSession(variant.model);
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        k: ort.Tensor.fromGpuBuffer(ortK, { dataType: 'float32', dims: kvDims }),
        v: ort.Tensor.fromGpuBuffer(ortV, { dataType: 'float32', dims: kvDims }),
      };
      if (s.tokens > 1) feeds.mask = new ort.Tensor('float32', mask, [1, 1, s.tokens, length]);
      const qDims = variant.headsFirst ? [1, HEADS, s.tokens, HEAD_DIM] : [1, s.tokens, HEADS * HEAD_DIM];
      const runOnce = async (): Promise<ArrayLike<number>> => {
        feeds.q = new ort.Tensor('float32', variant.headsFirst ? qHeadsFirst : q, qDims);
        const outputs = await session.run(feeds);
        return (await (outputs.out as InstanceType<typeof ort.Tensor>).getData()) as Float32Array;
      };
      // A baseline counts only when it computes the same thing: check it before timing it.
      const result = await runOnce();
      let maxDiff = 0;
      for (let t = 0; t < s.tokens; t++)
        for (let h = 0; h < HEADS; h++)
          for (let d = 0; d < HEAD_DIM; d++) {
            const mine = ours[(t * HEADS + h) * HEAD_DIM + d] as number;
            const theirs = result[variant.headsFirst ? (h * s.tokens + t) * HEAD_DIM + d : (t * HEADS + h) * HEAD_DIM + d] as number;
            if (!(Math.abs(mine - theirs) <= maxDiff)) maxDiff = Math.abs(mine - theirs);
          }
      if (!(maxDiff < 1e-3)) {
        rejected.push(`${variant.label.replace('ort-webgpu ', '')} ran but differs by ${maxDiff.toPrecision(2)}`);
        env.log(`${s.name} L=${length}: ${variant.label} output differs from ours by ${maxDiff}; skipped`);
        continue;
      }
      const timing = await timeMedian(runOnce, { warmup: 0, runs: 5 });
      baseline = rejected.length ? `${variant.label} (${rejected.join('; ')})` : variant.label;
      baselineMs = timing.median_ms;
      env.log(`${s.name} L=${length}: ${variant.label} ${baselineMs.toFixed(1)} ms, ours ${oursTiming.median_ms.toFixed(2)} ms, max |Δ| ${maxDiff.toExponential(2)}`);
      break;
    } catch (error) {
      rejected.push(`${variant.label.replace('ort-webgpu ', '')} failed`);
      env.log(`${s.name}: ${variant.label} failed: ${(error as Error).message}`);
    }
  }
  cache.destroy();
  for (const buffer of [qBuffer, kBuffer, vBuffer, out, ortK, ortV]) buffer.destroy();
  if (!baseline) throw new Error(`${s.name}: no ORT baseline ran and matched: ${rejected.join('; ')}`);
  const shapeText =
    s.tokens === 1
      ? `q [1,${HEADS},1,${HEAD_DIM}], K/V cache [1,${HEADS},${length},${HEAD_DIM}] (L=${length})`
      : `T=${s.tokens} at P=${s.position}, ${HEADS} heads × ${HEAD_DIM}, max_len ${s.maxLen}, causal`;
  return benchRow(
    { name: s.name, shape: shapeText, ours_ms: oursTiming.median_ms, baseline, baseline_ms: baselineMs },
    { count: attentionFlops(HEADS, HEAD_DIM, s.position, s.tokens), ceilingGflops: env.ceilingGflops },
  );
}

export const attentionCase: BenchCase = {
  name: 'attention',
  async run(env): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const s of scenarios) rows.push(await runScenario(env, s));
    return rows;
  },
};
