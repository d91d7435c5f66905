// Benchmark: token sampling on the GPU (src/kernels/sample.ts, only the 4-byte id read back) against what
// a user would otherwise do: read the logits back and sample in JavaScript (quickselect for the top-k
// threshold, then sort of the ≤ k + ties survivors, softmax, top-p, draw). Both sides start from logits
// resident on the GPU and end with the id on the CPU; both use the same uniform, and the case checks that
// they chose the same id. Rows: B = 1 (LLM settings k = 1200, p = 0.95), B = 2 with guidance 4, and B = 2 with
// guidance 2 and the conditional min-p 0.1 (prompt guidance as Tar-Shapes uses it; the JS side filters, then samples
// the kept tokens only).
import { sample, type SampleOptions } from '../../src/kernels/sample.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { benchRow, timeMedian } from '../timing.ts';
import type { BenchCase, BenchEnv, BenchRow } from '../types.ts';

export const SAMPLE_BENCH_VOCAB = 217_206;
const TOP_K = 1200;
const TOP_P = 0.95;
const GUIDANCE = 4;
const PROMPT_GUIDANCE = 2;
const COND_MIN_P = 0.1;

type Mode = 'plain' | 'guided' | 'guided-min-p';

/** Moves the k-th largest value of `a` to a[k] (values before it ≥ it, after it ≤ it); returns it. */
function selectKthLargest(a: Float32Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  while (right > left) {
    const mid = (left + right) >> 1;
    // median of three as pivot
    let x = a[left] as number;
    let y = a[mid] as number;
    let z = a[right] as number;
    if (x < y) [x, y] = [y, x];
    if (y < z) [y, z] = [z, y];
    if (x < y) [x, y] = [y, x];
    const pivot = y;
    let i = left;
    let j = right;
    while (i <= j) {
      while ((a[i] as number) > pivot) i++;
      while ((a[j] as number) < pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return a[k] as number;
}

/** JS sampling of one row with the same semantics as the GPU kernel (temperature 1, full range). */
function sampleJs(x: Float32Array, topK: number, topP: number, u: number): number {
  const threshold = selectKthLargest(x.slice(), topK - 1);
  const ids: number[] = [];
  for (let i = 0; i < x.length; i++) if ((x[i] as number) >= threshold) ids.push(i);
  ids.sort((a, b) => (x[b] as number) - (x[a] as number) || a - b);
  const top = x[ids[0] as number] as number;
  const p = ids.map((i) => Math.exp((x[i] as number) - top));
  const z = p.reduce((s, v) => s + v, 0);
  let keep = 1;
  let suffix = 0;
  for (let i = p.length - 1; i >= 1; i--) {
    suffix += p[i] as number;
    if (suffix > (1 - topP) * z) {
      keep = i + 1;
      break;
    }
  }
  let z2 = 0;
  for (let i = 0; i < keep; i++) z2 += p[i] as number;
  let cum = 0;
  for (let i = 0; i < keep; i++) {
    cum += p[i] as number;
    if (cum > u * z2) return ids[i] as number;
  }
  return ids[keep - 1] as number;
}

/** Guidance combine in f32, as the kernel does it: rows [cond, uncond]. */
function combine(logits: Float32Array, vocab: number, scale: number): Float32Array {
  const out = new Float32Array(vocab);
  const s = Math.fround(scale);
  for (let i = 0; i < vocab; i++) {
    const u = logits[vocab + i] as number;
    out[i] = u + s * ((logits[i] as number) - u);
  }
  return out;
}

/** Prompt guidance with the conditional min-p filter in JS: rows [cond, uncond] → the guided values of the tokens
 *  whose conditional value is ≥ f32(max + f32(ln minP)) (temperature 1), and their ids. */
function filterAndCombine(logits: Float32Array, vocab: number, scale: number, minP: number): { values: Float32Array; ids: Uint32Array } {
  let best = -Infinity;
  for (let i = 0; i < vocab; i++) best = Math.max(best, logits[i] as number);
  const threshold = Math.fround(best + Math.fround(Math.log(minP)));
  const ids: number[] = [];
  for (let i = 0; i < vocab; i++) if ((logits[i] as number) >= threshold) ids.push(i);
  const values = new Float32Array(ids.length);
  const s = Math.fround(scale);
  ids.forEach((id, j) => {
    const u = logits[vocab + id] as number;
    values[j] = u + s * ((logits[id] as number) - u);
  });
  return { values, ids: Uint32Array.from(ids) };
}

/** Runs one configuration; `vocab` is a parameter so the case can be tried at small sizes. */
export async function benchSample(env: BenchEnv, vocab: number, mode: Mode, options: SampleOptions = {}): Promise<BenchRow> {
  const { ctx } = env;
  const guided = mode !== 'plain';
  const batch = guided ? 2 : 1;
  const random = new SeededRandom(mode === 'plain' ? 11 : mode === 'guided' ? 12 : 13);
  const data = random.normals(batch * vocab, 3);
  const logits = ctx.upload(data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'bench.sample.logits');
  const guidance =
    mode === 'guided' ? { scale: GUIDANCE } : mode === 'guided-min-p' ? { scale: PROMPT_GUIDANCE, pairs: [[0, 1]] as const, condMinP: COND_MIN_P } : undefined;
  const settings = { temperature: 1, topK: TOP_K, topP: TOP_P, ...(guidance ? { guidance } : {}) };
  const uniforms = new SeededRandom(5);
  const baselineRun = async (u: number): Promise<number> => {
    const read = new Float32Array(await ctx.read(logits, 0, batch * vocab * 4));
    if (mode === 'plain') return sampleJs(read, TOP_K, TOP_P, u);
    if (mode === 'guided') return sampleJs(combine(read, vocab, GUIDANCE), TOP_K, TOP_P, u);
    const kept = filterAndCombine(read, vocab, PROMPT_GUIDANCE, COND_MIN_P);
    return kept.ids[sampleJs(kept.values, Math.min(TOP_K, kept.values.length), TOP_P, u)] as number;
  };
  let disagreements = 0;
  const checks = 3;
  for (let i = 0; i < checks; i++) {
    const u = uniforms.next();
    const [gpuId] = await sample(ctx, { batch, vocab }, settings, logits, [u], options);
    if (gpuId !== (await baselineRun(u))) disagreements++;
  }
  const ours = await timeMedian(() => sample(ctx, { batch, vocab }, settings, logits, [uniforms.next()], options), { warmup: 1, runs: 7 });
  const baseline = await timeMedian(() => baselineRun(uniforms.next()), { warmup: 1, runs: 7 });
  logits.destroy();
  const label = mode === 'plain' ? '' : mode === 'guided' ? `,cfg=${GUIDANCE}` : `,cfg=${PROMPT_GUIDANCE},minP=${COND_MIN_P}`;
  env.log(
    `sample B=${batch}${label} V=${vocab}: ours ${ours.median_ms.toFixed(2)} ms [${ours.samples_ms.map((v) => v.toFixed(1)).join(', ')}], ` +
      `baseline ${baseline.median_ms.toFixed(2)} ms [${baseline.samples_ms.map((v) => v.toFixed(1)).join(', ')}]; ` +
      `GPU and JS ids differ in ${disagreements} of ${checks} checks`,
  );
  return benchRow({
    name: 'sample',
    shape: `B=${batch},V=${vocab},k=${TOP_K},p=${TOP_P}${label}`,
    ours_ms: ours.median_ms,
    baseline: 'readback + JS quickselect top-k/top-p',
    baseline_ms: baseline.median_ms,
  });
}

export const sampleCase: BenchCase = {
  name: 'sample',
  async run(env: BenchEnv): Promise<BenchRow[]> {
    return [
      await benchSample(env, SAMPLE_BENCH_VOCAB, 'plain'),
      await benchSample(env, SAMPLE_BENCH_VOCAB, 'guided'),
      await benchSample(env, SAMPLE_BENCH_VOCAB, 'guided-min-p'),
    ];
  },
};
