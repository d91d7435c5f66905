// Golden files (tools/convert/goldens.py): safetensors holding fixed inputs and the torch reference's
// outputs for one component, with metadata {format: "tar-goldens", version: "1", component}. A run of an
// ONNX graph is named after the graph's input and output names (see casesForGraph); other tensors hold
// data for other tests (prompts, tables, post-processing) and are left to them.
import { TarError } from '../errors.ts';
import { parseSafetensors, type SafeTensor } from './safetensors.ts';

export const GOLDEN_FORMAT = 'tar-goldens';
export const GOLDEN_VERSION = '1';

/** A golden file this code does not understand (wrong format or version, bad names). */
export class GoldensError extends TarError {
  constructor(message: string) {
    super('invalid-input', message);
    this.name = 'GoldensError';
  }
}

export interface Goldens {
  component: string;
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
}

/** Parses a golden file and checks its metadata; `expectedComponent` (if given) must match. */
export function parseGoldens(buffer: ArrayBufferLike | Uint8Array, source = 'goldens', expectedComponent?: string): Goldens {
  const { metadata, tensors } = parseSafetensors(buffer, source);
  if (metadata.format !== GOLDEN_FORMAT || metadata.version !== GOLDEN_VERSION) {
    throw new GoldensError(
      `${source}: not a version-${GOLDEN_VERSION} golden file (metadata ${JSON.stringify(metadata)}); regenerate with npm run make-tiny`,
    );
  }
  const component = metadata.component ?? '';
  if (expectedComponent !== undefined && component !== expectedComponent) {
    throw new GoldensError(`${source}: goldens of component ${JSON.stringify(component)}, expected ${JSON.stringify(expectedComponent)}`);
  }
  return { component, metadata, tensors };
}

/** A graph as onnxruntime sessions report it; `names` are what a golden step may call it (role, file stem). */
export interface GraphSignature {
  names: readonly string[];
  inputNames: readonly string[];
  outputNames: readonly string[];
}

/** One run of one graph: graph input/output name → golden tensor name. */
export interface GoldenCase {
  /** The step part of the golden names ('' when there is none), e.g. "prefill", "decoder". */
  step: string;
  inputs: Map<string, string>;
  outputs: Map<string, string>;
}

/**
 * The runs of `graph` found in golden tensor `names`. Two naming schemes are accepted (both in use):
 * `<step>.input.<graph input>` / `<step>.output.<graph output>` and `input.<step>.<graph input>` /
 * `output.<step>.<graph output>`, with an optional or empty step. A run needs every graph input and at
 * least one graph output. When a step's first segment names another graph of `others`, the run is
 * that graph's, not this one's.
 */
export function casesForGraph(names: Iterable<string>, graph: GraphSignature, others: readonly GraphSignature[] = []): GoldenCase[] {
  const all = new Set(names);
  const keys = new Map<string, { pre: string; mid: string }>();
  for (const name of all) {
    for (let k = name.indexOf('input.'); k >= 0; k = name.indexOf('input.', k + 1)) {
      if (k > 0 && name[k - 1] !== '.') continue;
      const pre = name.slice(0, k);
      const rest = name.slice(k + 'input.'.length);
      for (const input of graph.inputNames) {
        if (!rest.endsWith(input)) continue;
        const mid = rest.slice(0, rest.length - input.length);
        if (mid !== '' && !mid.endsWith('.')) continue;
        keys.set(`${pre}|${mid}`, { pre, mid });
      }
    }
  }
  const cases: GoldenCase[] = [];
  for (const { pre, mid } of keys.values()) {
    const step = `${pre}${mid}`.replace(/\.$/, '');
    const first = step.split('.')[0] ?? '';
    if (first !== '' && !graph.names.includes(first) && others.some((o) => o !== graph && o.names.includes(first))) continue;
    const inputs = new Map<string, string>();
    for (const input of graph.inputNames) {
      const name = `${pre}input.${mid}${input}`;
      if (all.has(name)) inputs.set(input, name);
    }
    if (inputs.size !== graph.inputNames.length) continue;
    const outputs = new Map<string, string>();
    for (const output of graph.outputNames) {
      const name = `${pre}output.${mid}${output}`;
      if (all.has(name)) outputs.set(output, name);
    }
    if (outputs.size > 0) cases.push({ step, inputs, outputs });
  }
  return cases.sort((a, b) => (a.step < b.step ? -1 : a.step > b.step ? 1 : 0));
}

/** Golden names that `cases` do not use (other tests' data, or a sign of a naming mismatch). */
export function unusedGoldenNames(names: Iterable<string>, cases: readonly GoldenCase[]): string[] {
  const used = new Set<string>();
  for (const c of cases) for (const n of [...c.inputs.values(), ...c.outputs.values()]) used.add(n);
  return [...names].filter((n) => !used.has(n)).sort();
}
