// Token sampling on the CPU: the reference the GPU sampler (src/kernels/sample.ts) must match id for id,
// and the engine's CPU fallback. Steps, in order: guidance combine (with its optional conditional min-p
// filter), temperature, token-id range, top-k, top-p, draw with a caller-supplied uniform u — Hugging
// Face's TopKLogitsWarper then TopPLogitsWarper followed by a draw over the kept tokens in a fixed order. It does not generate u: the caller's seeded
// generator does (src/util/random.ts).
//
// Exact semantics (shared with the GPU kernel):
// - Per-token arithmetic is f32, as on the GPU: c = f32(u + f32(s · f32(c − u))) with guidance, then
//   x = f32(c · f32(1/T)). Accumulations (softmax sums, cumulative sums) are float64 here.
// - Tokens outside [lo, hi) and tokens whose processed value is not finite (NaN, ±inf) are never drawn.
// - Conditional min-p (guidance only): with m the largest finite f32(c · (1/T)) of the row's conditional
//   logits in [lo, hi) (the lowest finite f32 when there is none; T = 1 when greedy), a token is never drawn
//   unless f32(c · (1/T)) ≥ f32(m + f32(ln minP)): guidance re-weights only the tokens the prompt itself
//   finds plausible.
// - Order: descending value, ties by ascending id. "Ascending" (top-p) is the exact reverse.
// - Top-k (0 < k < hi − lo): keep tokens whose value ≥ the k-th largest value (ties at it all kept).
// - Top-p: softmax over the kept tokens; drop those whose ascending cumulative probability ≤ 1 − p; the
//   most probable token is always kept.
// - Draw: renormalise the kept tokens; the first (in order) whose cumulative probability exceeds u; the
//   last kept token when rounding leaves none.
// - Temperature 0: greedy (largest value, ties → lowest id), after guidance and range.
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';

/** The largest finite f32. */
const F32_MAX = 3.4028234663852886e38;

export interface SampleGuidance {
  /** l = l_u + scale · (l_c − l_u). */
  scale: number;
  /** [conditional row, unconditional row] per output row; default: row b with row b + batch/2. */
  pairs?: ReadonlyArray<readonly [number, number]>;
  /** In (0, 1]: only tokens whose conditional probability (at the temperature) is at least this share of the
   *  most probable conditional token's may be drawn. Default: no filter. */
  condMinP?: number;
}

export interface SampleSettings {
  /** 0 = greedy. */
  temperature: number;
  /** 0 or ≥ the range size = disabled. */
  topK: number;
  /** In (0, 1]; 1 = disabled. */
  topP: number;
  /** Token ids [lo, hi) that may be drawn; default the whole vocabulary. */
  range?: { lo: number; hi: number };
  guidance?: SampleGuidance;
}

export interface SampleShape {
  /** Rows of logits in the buffer. */
  batch: number;
  vocab: number;
}

/** What one output row reads: its conditional row and (with guidance) its unconditional row. */
export interface RowPlan {
  cond: number;
  uncond: number;
}

/** Validated settings in the form both implementations use. */
export interface SamplePlan {
  rows: RowPlan[];
  lo: number;
  hi: number;
  greedy: boolean;
  /** f32(1 / temperature); 1 when greedy. */
  invTemp: number;
  guided: boolean;
  guidance: number;
  /** Conditional min-p filter on (guidance only) and f32(ln minP) (0 when off). */
  condFilter: boolean;
  condFloor: number;
  /** 0 = disabled (also when k ≥ hi − lo). */
  topK: number;
  topP: number;
}

function isInt(v: number): boolean {
  return Number.isInteger(v);
}

/** Checks shapes and settings (typed errors) and resolves the defaults. */
export function planSample(shape: SampleShape, settings: SampleSettings): SamplePlan {
  const { batch, vocab } = shape;
  if (!isInt(batch) || batch < 1) throw new InvalidInputError(`sample: batch ${batch} must be a positive integer`);
  if (!isInt(vocab) || vocab < 1) throw new InvalidInputError(`sample: vocab ${vocab} must be a positive integer`);
  const { temperature, topK, topP } = settings;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new InvalidArgumentError(`sample: temperature ${temperature} must be finite and ≥ 0`);
  }
  if (!isInt(topK) || topK < 0) throw new InvalidArgumentError(`sample: top-k ${topK} must be an integer ≥ 0`);
  if (!(topP > 0 && topP <= 1)) throw new InvalidArgumentError(`sample: top-p ${topP} must lie in (0, 1]`);
  const lo = settings.range?.lo ?? 0;
  const hi = settings.range?.hi ?? vocab;
  if (!isInt(lo) || !isInt(hi) || lo < 0 || hi <= lo) {
    throw new InvalidArgumentError(`sample: token range [${lo}, ${hi}) is empty or invalid`);
  }
  if (hi > vocab) throw new InvalidArgumentError(`sample: token range [${lo}, ${hi}) exceeds the vocabulary of ${vocab}`);
  let rows: RowPlan[];
  const g = settings.guidance;
  if (g) {
    if (!Number.isFinite(g.scale)) throw new InvalidArgumentError(`sample: guidance scale ${g.scale} must be finite`);
    if (g.condMinP !== undefined && !(g.condMinP > 0 && g.condMinP <= 1)) {
      throw new InvalidArgumentError(`sample: guidance condMinP ${g.condMinP} must lie in (0, 1]`);
    }
    if (g.pairs) {
      if (g.pairs.length === 0) throw new InvalidInputError('sample: guidance pairs are empty');
      for (const [c, u] of g.pairs) {
        if (!isInt(c) || !isInt(u) || c < 0 || u < 0 || c >= batch || u >= batch) {
          throw new InvalidInputError(`sample: guidance pair [${c}, ${u}] is outside the batch of ${batch}`);
        }
      }
      rows = g.pairs.map(([cond, uncond]) => ({ cond, uncond }));
    } else {
      if (batch % 2 !== 0) throw new InvalidInputError(`sample: guidance needs an even batch (got ${batch})`);
      rows = Array.from({ length: batch / 2 }, (_, b) => ({ cond: b, uncond: b + batch / 2 }));
    }
  } else {
    rows = Array.from({ length: batch }, (_, b) => ({ cond: b, uncond: b }));
  }
  const greedy = temperature === 0;
  return {
    rows,
    lo,
    hi,
    greedy,
    invTemp: greedy ? 1 : Math.fround(1 / temperature),
    guided: g !== undefined,
    guidance: Math.fround(g?.scale ?? 1),
    condFilter: g?.condMinP !== undefined,
    condFloor: g?.condMinP !== undefined ? Math.fround(Math.log(g.condMinP)) : 0,
    topK: topK >= hi - lo ? 0 : topK,
    topP,
  };
}

/** Checks the per-row uniforms: one per output row, each in [0, 1). */
export function checkUniforms(plan: SamplePlan, uniforms: ArrayLike<number>): void {
  if (uniforms.length !== plan.rows.length) {
    throw new InvalidInputError(`sample: ${uniforms.length} uniforms for ${plan.rows.length} output rows`);
  }
  for (let i = 0; i < uniforms.length; i++) {
    const u = uniforms[i] as number;
    if (!(u >= 0 && u < 1)) throw new InvalidArgumentError(`sample: uniform ${u} (row ${i}) is not in [0, 1)`);
  }
}

/** f32 of a conditional logit as the filter sees it: c · (1/T), or c when greedy. */
function conditionalValue(plan: SamplePlan, c: number): number {
  return plan.greedy ? c : Math.fround(c * plan.invTemp);
}

/** The conditional min-p threshold of one output row: f32(m + condFloor), m the largest finite conditional
 *  value in the range (the lowest finite f32 when none); −∞ (no filter) when the filter is off. */
export function conditionalThreshold(plan: SamplePlan, logits: Float32Array, vocab: number, row: RowPlan): number {
  if (!plan.condFilter) return -Infinity;
  let m = -F32_MAX;
  for (let i = plan.lo; i < plan.hi; i++) {
    const x = conditionalValue(plan, logits[row.cond * vocab + i] as number);
    if (Number.isFinite(x) && x > m) m = x;
  }
  return Math.fround(m + plan.condFloor);
}

/** The processed (f32) value of token i for one output row, or NaN when it can never be drawn (`threshold`:
 *  conditionalThreshold of the row). */
export function processedLogit(plan: SamplePlan, logits: Float32Array, vocab: number, row: RowPlan, i: number, threshold = -Infinity): number {
  let x = logits[row.cond * vocab + i] as number;
  if (plan.condFilter && !(conditionalValue(plan, x) >= threshold)) return Number.NaN;
  if (plan.guided) {
    const u = logits[row.uncond * vocab + i] as number;
    x = Math.fround(u + Math.fround(plan.guidance * Math.fround(x - u)));
  }
  if (!plan.greedy) x = Math.fround(x * plan.invTemp);
  return Number.isFinite(x) ? x : Number.NaN;
}

/** Detail of one row's draw, for tests that keep u and top-p away from rounding boundaries. */
export interface RowDraw {
  id: number;
  /** Ascending cumulative probabilities (after top-k) at each kept-after-top-k token, in draw order. */
  topPSuffix: number[];
  /** Renormalised cumulative probabilities of the kept tokens, in draw order. */
  drawCumulative: number[];
}

/** Samples one output row (float64 accumulation). */
export function sampleRowReference(plan: SamplePlan, logits: Float32Array, vocab: number, row: RowPlan, u: number): RowDraw {
  const tokens: { x: number; id: number }[] = [];
  const threshold = conditionalThreshold(plan, logits, vocab, row);
  for (let i = plan.lo; i < plan.hi; i++) {
    const x = processedLogit(plan, logits, vocab, row, i, threshold);
    if (!Number.isNaN(x)) tokens.push({ x, id: i });
  }
  if (tokens.length === 0) throw new InvalidInputError('sample: no finite logit in the token range');
  tokens.sort((a, b) => b.x - a.x || a.id - b.id);
  const top = tokens[0] as { x: number; id: number };
  if (plan.greedy) return { id: top.id, topPSuffix: [], drawCumulative: [] };
  let kept = tokens;
  if (plan.topK > 0 && plan.topK < tokens.length) {
    const threshold = (tokens[plan.topK - 1] as { x: number }).x;
    kept = tokens.filter((t) => t.x >= threshold);
  }
  const weights = kept.map((t) => Math.exp(t.x - top.x));
  const z = weights.reduce((a, b) => a + b, 0);
  const probs = weights.map((w) => w / z);
  // Ascending cumulative sum = suffix sums in draw order.
  const suffix = new Array<number>(probs.length);
  let acc = 0;
  for (let i = probs.length - 1; i >= 0; i--) {
    acc += probs[i] as number;
    suffix[i] = acc;
  }
  let keep = 1;
  for (let i = probs.length - 1; i >= 1; i--) {
    if ((suffix[i] as number) > 1 - plan.topP) {
      keep = i + 1;
      break;
    }
  }
  const z2 = probs.slice(0, keep).reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let cum = 0;
  let id = (kept[keep - 1] as { id: number }).id;
  let found = false;
  for (let i = 0; i < keep; i++) {
    cum += (probs[i] as number) / z2;
    cumulative.push(cum);
    if (!found && cum > u) {
      id = (kept[i] as { id: number }).id;
      found = true;
    }
  }
  return { id, topPSuffix: suffix, drawCumulative: cumulative };
}

/** Samples every output row: logits [batch, vocab] (f32), one uniform per output row → ids. */
export function sampleReference(shape: SampleShape, settings: SampleSettings, logits: Float32Array, uniforms: ArrayLike<number>): number[] {
  const plan = planSample(shape, settings);
  if (logits.length !== shape.batch * shape.vocab) {
    throw new InvalidInputError(`sample: ${logits.length} logits for a [${shape.batch}, ${shape.vocab}] shape`);
  }
  checkUniforms(plan, uniforms);
  return plan.rows.map((row, r) => sampleRowReference(plan, logits, shape.vocab, row, uniforms[r] as number).id);
}
