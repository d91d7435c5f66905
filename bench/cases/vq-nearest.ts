// Benchmark: codebook nearest neighbour (src/kernels/vq-nearest.ts) at Tar's size (K = 65,536 unit rows of
// D = 1,536) against onnxruntime-web's WebGPU EP on the same device running MatMul(Q[N,D], Cᵀ[D,K]) →
// ArgMax(axis 1), as a user would without our kernel. Both sides keep the codebook resident on the GPU (ours
// as a GpuCodebook, ORT's Cᵀ as a GPU tensor feed), take the queries from the CPU and read the indices
// back in every timed run. ORT's indices are checked against ours before it is timed (disagreements are
// logged; only float32 near-ties may differ).
import { createCodebook, nearest } from '../../src/kernels/vq-nearest.ts';
import { SeededRandom } from '../../src/util/random.ts';
import { OnnxGraphBuilder } from '../onnx-builder.ts';
import { benchRow, timeMedian } from '../timing.ts';
import type { BenchCase, BenchEnv, BenchRow } from '../types.ts';

export interface VqScenario {
  queries: number;
  size: number;
  dim: number;
}

const SCENARIOS: VqScenario[] = [
  { queries: 81, size: 65536, dim: 1536 },
  { queries: 9, size: 65536, dim: 1536 },
];
/** A run over this many milliseconds is timed 3 times instead of 5. */
const SLOW_RUN_MS = 10_000;

function argmaxGraph(s: VqScenario): Uint8Array {
  const g = new OnnxGraphBuilder('vq_nearest');
  g.input('q', 'float32', [s.queries, s.dim]);
  g.input('cT', 'float32', [s.dim, s.size]);
  g.node('MatMul', ['q', 'cT'], ['scores']);
  g.node('ArgMax', ['scores'], ['index'], { axis: 1, keepdims: 0 });
  g.output('index', 'int64', [s.queries]);
  return g.build();
}

async function timeAdaptive(env: BenchEnv, label: string, run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  const first = performance.now() - start;
  const runs = first > SLOW_RUN_MS ? 3 : 5;
  const timing = await timeMedian(run, { warmup: 0, runs });
  env.log(`vq_nearest ${label}: ${timing.samples_ms.map((ms) => ms.toFixed(0)).join(', ')} ms (first ${first.toFixed(0)})`);
  return timing.median_ms;
}

/** One row: ours vs ORT for one shape. Exported so a smaller shape can be tried by hand. */
export async function runVqScenario(env: BenchEnv, s: VqScenario): Promise<BenchRow> {
  const { ctx, ort } = env;
  const shape = `N=${s.queries},K=${s.size},D=${s.dim}`;
  const random = new SeededRandom(s.queries * 7 + s.size);
  // rows: [K, D], unit length.
  const rows = random.normals(s.size * s.dim);
  for (let k = 0; k < s.size; k++) {
    const row = rows.subarray(k * s.dim, (k + 1) * s.dim);
    let sumSq = 0;
    for (let d = 0; d < s.dim; d++) sumSq += (row[d] as number) ** 2;
    const inv = 1 / Math.sqrt(sumSq);
    for (let d = 0; d < s.dim; d++) row[d] = (row[d] as number) * inv;
  }
  const queries = random.normals(s.queries * s.dim);

  const codebook = createCodebook(ctx, rows, s.size, s.dim, { storage: 'f32' });
  let ours: ArrayLike<number> = [];
  const oursMs = await timeAdaptive(env, `${shape} ours`, async () => {
    ours = (await nearest(ctx, codebook, queries, s.queries)).indices;
  });
  codebook.destroy();

  // cT: [D, K] for ORT, resident on the GPU.
  const cT = ctx.device.createBuffer({
    size: s.size * s.dim * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    label: 'bench.vq.cT',
  });
  const slab = new Float32Array(64 * s.size);
  for (let d0 = 0; d0 < s.dim; d0 += 64) {
    const dims = Math.min(64, s.dim - d0);
    for (let k = 0; k < s.size; k++) for (let j = 0; j < dims; j++) slab[j * s.size + k] = rows[k * s.dim + d0 + j] as number;
    ctx.device.queue.writeBuffer(cT, d0 * s.size * 4, slab.buffer, 0, dims * s.size * 4);
  }
  // The session stays alive: ORT drops its device state when its last session is released.
  const session = await env.createSession(argmaxGraph(s));
  const feeds = {
    q: new ort.Tensor('float32', queries, [s.queries, s.dim]),
    cT: ort.Tensor.fromGpuBuffer(cT, { dataType: 'float32', dims: [s.dim, s.size] }),
  };
  let theirs: ArrayLike<bigint> = [];
  const runOrt = async (): Promise<void> => {
    const outputs = await session.run(feeds);
    theirs = (await (outputs.index as InstanceType<typeof ort.Tensor>).getData()) as BigInt64Array;
  };
  await runOrt();
  let disagreements = 0;
  for (let q = 0; q < s.queries; q++) if (Number(theirs[q]) !== ours[q]) disagreements++;
  env.log(`vq_nearest ${shape}: ORT and ours disagree on ${disagreements} of ${s.queries} indices`);
  const baselineMs = await timeAdaptive(env, `${shape} ort`, runOrt);
  cT.destroy();
  return benchRow(
    { name: 'vq_nearest', shape, ours_ms: oursMs, baseline: 'ort-webgpu MatMul+ArgMax', baseline_ms: baselineMs },
    { count: 2 * s.queries * s.size * s.dim, ceilingGflops: env.ceilingGflops },
  );
}

export const vqNearestCase: BenchCase = {
  name: 'vq_nearest',
  async run(env): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const s of SCENARIOS) rows.push(await runVqScenario(env, s));
    return rows;
  },
};
