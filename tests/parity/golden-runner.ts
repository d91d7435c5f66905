// Runs a component's ONNX graphs on its golden inputs and compares every golden output — the same code in
// Node (onnxruntime-node, tests/parity/) and in the browser (onnxruntime-web WebGPU, tests/gpu/probes/parity.ts).
// Pure: no Node or DOM APIs; the caller brings the sessions and the Tensor class of its onnxruntime.
import type { Tensor } from 'onnxruntime-web';
import { casesForGraph, unusedGoldenNames, type GoldenCase, type Goldens } from '../../src/model/goldens.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import type { SafeTensor } from '../../src/model/safetensors.ts';

/**
 * Float outputs: |actual − expected| ≤ max(REL_TOLERANCE·|expected|, ABS_FLOOR·max(1, max|expected|)) — relative
 * error 1e-4, with an absolute floor of 1e-5 of the tensor's scale for elements near zero (float32 rounding in a
 * sum grows with the size of its terms, not of its result: LLM logits reach |17| and differ by up to 1.7e-5 near
 * zero between torch and onnxruntime). Integer outputs: exact.
 */
export const REL_TOLERANCE = 1e-4;
export const ABS_FLOOR = 1e-5;

export interface SessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
}

export type TensorClass = new (type: Tensor.Type, data: Tensor.DataType, dims: readonly number[]) => Tensor;

export interface GraphUnderTest {
  role: string;
  path: string;
  session: SessionLike;
}

export interface OutputReport {
  output: string;
  golden: string;
  dtype: string;
  expectedDtype: string;
  shape: number[];
  expectedShape: number[];
  maxAbsError: number;
  maxRelError: number;
  /** The absolute floor used: ABS_FLOOR · max(1, max|expected|); 0 for exact comparisons. */
  absFloor: number;
  /** Elements outside the tolerance (all of them when dtype or shape differ). */
  mismatches: number;
  count: number;
}

export interface RunReport {
  graph: string;
  step: string;
  outputs: OutputReport[];
  error?: string;
}

export interface ComponentReport {
  component: string;
  /** Every ONNX role of the component, with its file. */
  graphs: { role: string; path: string }[];
  runs: RunReport[];
  /** ONNX roles that no golden run exercises. */
  graphsWithoutRuns: string[];
  /** Golden tensors no graph run used (other tests' data: prompts, tables, post-processing). */
  unusedGoldens: string[];
}

const ORT_TYPE: Record<SafeTensor['dtype'], Tensor.Type> = {
  F32: 'float32',
  F16: 'float16',
  I64: 'int64',
  I32: 'int32',
  U8: 'uint8',
};

/** The ONNX graphs of a component: roles whose file ends in `.onnx`, in role order. */
export function onnxRoles(manifest: Manifest, component: string): { role: string; path: string }[] {
  const comp = (manifest.components as Record<string, { files: Record<string, string> } | undefined>)[component];
  if (!comp) return [];
  return Object.entries(comp.files)
    .filter(([, path]) => path.endsWith('.onnx'))
    .map(([role, path]) => ({ role, path }))
    .sort((a, b) => (a.role < b.role ? -1 : 1));
}

function stem(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.endsWith('.onnx') ? base.slice(0, -5) : base;
}

function toNumbers(data: Tensor.DataType): ArrayLike<number> | null {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return null;
  if (Array.isArray(data)) return null;
  return data as ArrayLike<number>;
}

/** Compares one output with its golden. */
export function compareOutput(output: string, golden: string, actual: Tensor, expected: SafeTensor): OutputReport {
  const expectedDtype = ORT_TYPE[expected.dtype];
  const report: OutputReport = {
    output,
    golden,
    dtype: actual.type,
    expectedDtype,
    shape: [...actual.dims],
    expectedShape: expected.shape,
    maxAbsError: 0,
    maxRelError: 0,
    absFloor: 0,
    mismatches: 0,
    count: expected.data.length,
  };
  const sameShape = report.shape.length === expected.shape.length && report.shape.every((d, i) => d === expected.shape[i]);
  if (!sameShape || actual.type !== expectedDtype || actual.data.length !== expected.data.length) {
    report.mismatches = report.count;
    report.maxAbsError = Infinity;
    report.maxRelError = Infinity;
    return report;
  }
  if (expected.data instanceof BigInt64Array) {
    const a = actual.data as BigInt64Array;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== expected.data[i]) {
        report.mismatches++;
        const err = Math.abs(Number((a[i] as bigint) - (expected.data[i] as bigint)));
        report.maxAbsError = Math.max(report.maxAbsError, err);
      }
    }
    return report;
  }
  const a = toNumbers(actual.data);
  if (!a) throw new Error(`${output}: cannot compare data of type ${actual.type}`);
  const b = expected.data as ArrayLike<number>;
  const exact = expected.dtype !== 'F32';
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  const floor = ABS_FLOOR * scale;
  report.absFloor = floor;
  for (let i = 0; i < b.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    const err = Math.abs(x - y);
    const ok = exact ? x === y || (Number.isNaN(x) && Number.isNaN(y)) : err <= Math.max(floor, REL_TOLERANCE * Math.abs(y)) || x === y;
    if (!ok) report.mismatches++;
    if (!(err <= report.maxAbsError)) report.maxAbsError = err;
    const rel = err / Math.max(Math.abs(y), 1e-30);
    if (x !== y && rel > report.maxRelError) report.maxRelError = rel;
  }
  return report;
}

function feedsFor(c: GoldenCase, goldens: Goldens, TensorCtor: TensorClass): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const [input, name] of c.inputs) {
    const t = goldens.tensors.get(name) as SafeTensor;
    feeds[input] = new TensorCtor(ORT_TYPE[t.dtype], t.data, t.shape);
  }
  return feeds;
}

/** Runs every golden run of every graph of a component and compares every golden output. */
export async function runComponentGoldens(
  component: string,
  graphs: readonly GraphUnderTest[],
  goldens: Goldens,
  TensorCtor: TensorClass,
): Promise<ComponentReport> {
  const signatures = graphs.map((g) => ({
    names: [g.role, stem(g.path)],
    inputNames: g.session.inputNames,
    outputNames: g.session.outputNames,
  }));
  const names = [...goldens.tensors.keys()];
  const runs: RunReport[] = [];
  const allCases: GoldenCase[] = [];
  const graphsWithoutRuns: string[] = [];
  for (const [i, g] of graphs.entries()) {
    const cases = casesForGraph(names, signatures[i]!, signatures);
    if (cases.length === 0) graphsWithoutRuns.push(`${g.role} (${g.path}: inputs ${g.session.inputNames.join(', ')})`);
    for (const c of cases) {
      allCases.push(c);
      const run: RunReport = { graph: g.role, step: c.step, outputs: [] };
      try {
        const results = await g.session.run(feedsFor(c, goldens, TensorCtor));
        for (const [output, golden] of c.outputs) {
          const actual = results[output];
          if (!actual) throw new Error(`the session returned no ${output}`);
          run.outputs.push(compareOutput(output, golden, actual, goldens.tensors.get(golden) as SafeTensor));
        }
        for (const t of Object.values(results)) t.dispose?.();
      } catch (e) {
        run.error = e instanceof Error ? e.message : String(e);
      }
      runs.push(run);
    }
  }
  return {
    component,
    graphs: graphs.map((g) => ({ role: g.role, path: g.path })),
    runs,
    graphsWithoutRuns,
    unusedGoldens: unusedGoldenNames(names, allCases),
  };
}

/** Human-readable problems of a report; empty when every graph ran and every output matched. */
export function reportProblems(report: ComponentReport): string[] {
  const problems: string[] = [];
  for (const g of report.graphsWithoutRuns) problems.push(`${report.component}: graph ${g} has no golden run`);
  for (const run of report.runs) {
    const where = `${report.component}/${run.graph} step ${JSON.stringify(run.step)}`;
    if (run.error) problems.push(`${where}: ${run.error}`);
    for (const o of run.outputs) {
      if (o.dtype !== o.expectedDtype || o.shape.join() !== o.expectedShape.join()) {
        problems.push(`${where} ${o.output}: got ${o.dtype} [${o.shape.join(', ')}], golden ${o.golden} is ${o.expectedDtype} [${o.expectedShape.join(', ')}]`);
      } else if (o.mismatches > 0) {
        problems.push(
          `${where} ${o.output}: ${o.mismatches} of ${o.count} elements outside max(${REL_TOLERANCE}·|golden|, ${o.absFloor.toExponential(2)}) ` +
            `(max abs error ${o.maxAbsError.toExponential(3)}, max rel error ${o.maxRelError.toExponential(3)})`,
        );
      }
    }
  }
  return problems;
}

/** One line per run for the test log. */
export function reportSummary(report: ComponentReport): string {
  const lines = report.runs.map((r) => {
    const worst = r.outputs.reduce((m, o) => Math.max(m, o.maxAbsError), 0);
    const worstRel = r.outputs.reduce((m, o) => Math.max(m, o.maxRelError), 0);
    return `${report.component}/${r.graph} step ${JSON.stringify(r.step)}: ${r.outputs.length} outputs, max abs ${worst.toExponential(2)}, max rel ${worstRel.toExponential(2)}${r.error ? `, ERROR ${r.error}` : ''}`;
  });
  if (report.unusedGoldens.length) lines.push(`${report.component}: goldens not used by a graph run: ${report.unusedGoldens.join(', ')}`);
  return lines.join('\n');
}
