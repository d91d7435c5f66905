// Probe: GPU sampling against the CPU reference (src/kernels/sample-reference.ts) on seeded logits, with
// u and top-p moved away from the reference's cumulative boundaries; plus the typed errors and a
// realistic-size timing.
import {
  planSample,
  sampleReference,
  sampleRowReference,
  type SampleSettings,
  type SampleShape,
} from '../../../src/kernels/sample-reference.ts';
import { recordSample, sample, SAMPLE_NO_TOKEN, type SampleOptions } from '../../../src/kernels/sample.ts';
import { SeededRandom } from '../../../src/util/random.ts';
import { gpu } from './context.ts';

export type LogitKind = 'normal' | 'equal' | 'veryNegative' | 'peaked' | 'fewLevels' | 'crowded' | 'periodic';

export interface SampleCase {
  shape: SampleShape;
  settings: SampleSettings;
  kind: LogitKind;
  seed: number;
  /** Draws per case (fresh uniforms each). */
  draws?: number;
  options?: SampleOptions;
}

export interface SampleReport {
  gpu: number[];
  reference: number[];
  mismatches: number;
  /** u values or top-p moved off a boundary. */
  nudged: number;
  /** Distinct ids the reference drew (to show the case exercises the draw). */
  distinct: number;
  /** Per output row of the last draw: tokens at or above the candidate threshold, and bucket-list appends
   *  (meaningful on the candidate path only). */
  candidates: number[];
  bucketed: number[];
}

function makeLogits(kind: LogitKind, length: number, random: SeededRandom): Float32Array {
  const x = random.normals(length, 2);
  for (let i = 0; i < length; i++) {
    if (kind === 'equal') x[i] = 0.5;
    else if (kind === 'veryNegative' && random.next() < 0.5) x[i] = -1e30;
    else if (kind === 'peaked' && i % 97 === 3) x[i] = 20;
    else if (kind === 'fewLevels') x[i] = random.int(4);
    // crowded: all tokens in [5, 5.5) — one level-0 bin (key bits 31..20) — with distinct values
    else if (kind === 'crowded') x[i] = 5 + random.next() * 0.5;
    // periodic: every 8th token (the sampling stride) is high
    else if (kind === 'periodic' && i % 8 === 0) x[i] = (x[i] as number) + 8;
  }
  return x;
}

// The GPU sums probabilities in f32: a u (or 1 − top-p) within ~1e-5 of a reference cumulative boundary
// may legitimately flip to the neighbouring token. Keep them GAP away from every boundary.
const GAP = 1e-4;

function clear(value: number, boundaries: number[]): boolean {
  return boundaries.every((b) => Math.abs(b - value) > GAP);
}

export async function sampleProbe(c: SampleCase): Promise<SampleReport> {
  const ctx = await gpu();
  const random = new SeededRandom(c.seed);
  const logits = makeLogits(c.kind, c.shape.batch * c.shape.vocab, random);
  let settings = c.settings;
  let nudged = 0;
  let plan = planSample(c.shape, settings);
  for (let attempt = 0; attempt < 20 && settings.topP < 1; attempt++) {
    const limit = 1 - settings.topP;
    const ok = plan.rows.every((row) => clear(limit, sampleRowReference(plan, logits, c.shape.vocab, row, 0).topPSuffix.slice(1)));
    if (ok) break;
    settings = { ...settings, topP: settings.topP - 0.0037 };
    plan = planSample(c.shape, settings);
    nudged++;
  }
  const input = ctx.upload(logits, GPUBufferUsage.STORAGE, 'sample.probe.logits');
  const report: SampleReport = { gpu: [], reference: [], mismatches: 0, nudged, distinct: 0, candidates: [], bucketed: [] };
  const rows = plan.rows.length;
  const stateOut = ctx.pool.acquire(rows * 32, GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, 'sample.probe.state');
  for (let d = 0; d < (c.draws ?? 1); d++) {
    const uniforms = plan.rows.map((row) => {
      const cumulative = sampleRowReference(plan, logits, c.shape.vocab, row, 0).drawCumulative;
      let u = random.next();
      while (!clear(u, [0, ...cumulative])) {
        u = random.next();
        report.nudged++;
      }
      return u;
    });
    const expected = sampleReference(c.shape, settings, logits, uniforms);
    const actual = await sample(ctx, c.shape, settings, input, uniforms, { ...c.options, stateOut });
    report.gpu.push(...actual);
    report.reference.push(...expected);
  }
  const state = new Uint32Array(await ctx.read(stateOut, 0, rows * 32));
  ctx.pool.release(stateOut);
  for (let r = 0; r < rows; r++) {
    report.candidates.push(state[r * 8 + 4] as number);
    report.bucketed.push(state[r * 8 + 5] as number);
  }
  input.destroy();
  report.mismatches = report.gpu.filter((id, i) => id !== report.reference[i]).length;
  report.distinct = new Set(report.reference).size;
  return report;
}

/** The record path: ids stay in a GPU buffer; a row with no finite logit gets SAMPLE_NO_TOKEN. */
export async function sampleRecordProbe(): Promise<{ ids: number[]; noToken: number }> {
  const ctx = await gpu();
  const logits = new Float32Array([1, 5, 2, -Infinity, NaN, -Infinity]);
  const input = ctx.upload(logits, GPUBufferUsage.STORAGE, 'sample.probe.logits');
  const ids = ctx.pool.acquire(8, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'sample.probe.ids');
  const rec = ctx.recorder('sample.probe');
  recordSample(ctx, rec, { batch: 2, vocab: 3 }, { temperature: 1, topK: 2, topP: 1 }, input, [0.1, 0.9], ids);
  rec.submit();
  const result = Array.from(new Uint32Array(await ctx.read(ids, 0, 8)));
  ctx.pool.release(ids);
  input.destroy();
  return { ids: result, noToken: SAMPLE_NO_TOKEN };
}

/** Calls the GPU sampler with arbitrary arguments (for the typed-error checks). */
export async function sampleRawProbe(shape: SampleShape, settings: SampleSettings, length: number, uniforms: number[]): Promise<number[]> {
  return sample(await gpu(), shape, settings, new Float32Array(length), uniforms);
}

/** Realistic size: V = 217,206, one row, k = 1200, p = 0.95; the GPU id against the reference, and the
 *  median time of `runs` GPU samples (including the 4-byte read-back). */
export async function sampleRealisticProbe(runs: number, options?: SampleOptions): Promise<{ mismatches: number; medianMs: number }> {
  const ctx = await gpu();
  const vocab = 217_206;
  const random = new SeededRandom(7);
  const logits = random.normals(vocab, 3);
  const settings: SampleSettings = { temperature: 1, topK: 1200, topP: 0.95 };
  const plan = planSample({ batch: 1, vocab }, settings);
  const cumulative = sampleRowReference(plan, logits, vocab, plan.rows[0]!, 0).drawCumulative;
  const input = ctx.upload(logits, GPUBufferUsage.STORAGE, 'sample.probe.logits');
  let mismatches = 0;
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    let u = random.next();
    while (!clear(u, cumulative)) u = random.next();
    const start = performance.now();
    const [id] = await sample(ctx, { batch: 1, vocab }, settings, input, [u], options);
    times.push(performance.now() - start);
    if (id !== sampleReference({ batch: 1, vocab }, settings, logits, [u])[0]) mismatches++;
  }
  input.destroy();
  times.sort((a, b) => a - b);
  return { mismatches, medianMs: times[times.length >> 1] as number };
}

export const sampleProbes = {
  sample: sampleProbe,
  sampleRecord: sampleRecordProbe,
  sampleRaw: sampleRawProbe,
  sampleRealistic: sampleRealisticProbe,
};
