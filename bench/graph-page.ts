// The graph benchmark page: runs ONNX graphs in onnxruntime-web on the engine's WebGPU device, interleaved run by
// run so that a noisy machine slows them alike, and once more each with onnxruntime's profiler on (GPU timestamp of
// every kernel; its JSON goes to the console, which bench/run-graphs.mjs reads). Inputs are synthesised from each
// graph's input metadata; it measures time only, never checks outputs.
import { GpuContext } from '../src/gpu/context.ts';
import { createSharedSession, ort } from '../src/ort/session.ts';

export interface GraphTiming {
  label: string;
  /** Wall time of each timed run (feeds → outputs read back), ms. */
  runsMs: number[];
  /** Total number of elements read back per run (to tell a misconfigured input from a slow graph). */
  outputElements: number;
}

/** Deterministic values in [-1, 1) for float inputs. */
function floats(count: number): Float32Array {
  const data = new Float32Array(count);
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return data;
}

/** One input tensor: symbolic dimensions from `dims` (1 when not given); floats pseudo-random, integers 0 except an
 *  `attention_mask` of ones (the KV-cached decoder layout of docs/model-format.md). */
function syntheticInput(name: string, type: string, shape: ReadonlyArray<number | string>, dims: Record<string, number>): ort.Tensor {
  const resolved = shape.map((d) => (typeof d === 'number' ? d : (dims[d] ?? 1)));
  const count = resolved.reduce((a, b) => a * b, 1);
  if (type === 'float32') return new ort.Tensor('float32', floats(count), resolved);
  if (type === 'int64') return new ort.Tensor('int64', new BigInt64Array(count).fill(name === 'attention_mask' ? 1n : 0n), resolved);
  if (type === 'int32') return new ort.Tensor('int32', new Int32Array(count).fill(name === 'attention_mask' ? 1 : 0), resolved);
  throw new Error(`input ${name}: type ${type} is not synthesised by this benchmark`);
}

function feedsOf(session: ort.InferenceSession, dims: Record<string, number>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor`);
    feeds[meta.name] = syntheticInput(meta.name, meta.type, meta.shape, dims);
  }
  return feeds;
}

async function timedRun(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<{ ms: number; elements: number }> {
  const start = performance.now();
  const outputs = await session.run(feeds);
  let elements = 0;
  for (const tensor of Object.values(outputs)) {
    elements += (await tensor.getData()).length;
    tensor.dispose();
  }
  return { ms: performance.now() - start, elements };
}

let contextPromise: Promise<GpuContext> | null = null;

/** The page's one GpuContext (onnxruntime is bound to its device for the page's lifetime). */
function context(): Promise<GpuContext> {
  return (contextPromise ??= GpuContext.create());
}

export const graphBench = {
  adapter: async () => (await context()).info,
  /** Each graph warmed up `warmup` times, then `runs` rounds of one run each, in order. */
  compare: async (graphs: { label: string; url: string }[], dims: Record<string, number>, runs: number, warmup: number): Promise<GraphTiming[]> => {
    const ctx = await context();
    const loaded = [];
    for (const graph of graphs) {
      const session = await createSharedSession(ctx.device, graph.url);
      loaded.push({ graph, session, feeds: feedsOf(session, dims), runsMs: [] as number[], elements: 0 });
    }
    for (const entry of loaded) for (let i = 0; i < warmup; i++) await timedRun(entry.session, entry.feeds);
    for (let round = 0; round < runs; round++) {
      for (const entry of loaded) {
        const { ms, elements } = await timedRun(entry.session, entry.feeds);
        entry.runsMs.push(ms);
        entry.elements = elements;
      }
    }
    for (const entry of loaded) await entry.session.release();
    return loaded.map((e) => ({ label: e.graph.label, runsMs: e.runsMs, outputElements: e.elements }));
  },
  /** One profiled run after `warmup` unprofiled ones; the profile JSON is printed by onnxruntime on release. */
  profile: async (url: string, dims: Record<string, number>, warmup: number): Promise<void> => {
    const ctx = await context();
    const session = await createSharedSession(ctx.device, url, { enableProfiling: true });
    const feeds = feedsOf(session, dims);
    for (let i = 0; i < warmup; i++) await timedRun(session, feeds);
    await timedRun(session, feeds);
    session.endProfiling();
    await session.release();
  },
};

declare global {
  interface Window {
    graphBench: typeof graphBench;
  }
}
window.graphBench = graphBench;
document.body.dataset.ready = 'true';
