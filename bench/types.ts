// Contracts of the kernel benchmark: a case measures our kernel and the alternative a user would otherwise
// run (onnxruntime-web on the same adapter, or readback + JS) side by side, and returns result rows.
import type * as OrtModule from 'onnxruntime-web/webgpu';
import type { GpuContext } from '../src/gpu/context.ts';

/** One row of bench/results/kernels.json. */
export interface BenchRow {
  name: string;
  shape: string;
  ours_ms: number;
  baseline: string;
  baseline_ms: number;
  /** baseline_ms / ours_ms */
  speedup: number;
  /** Achieved GFLOP/s of our kernel, where the kernel's FLOP count is meaningful. */
  ours_gflops?: number;
  /** ours_gflops / the adapter's FMA ceiling (the fma_ceiling row). */
  fraction_of_ceiling?: number;
}

export interface BenchEnv {
  ctx: GpuContext;
  ort: typeof OrtModule;
  /** An ORT WebGPU session on ctx.device (the engine's device, shared). */
  createSession(model: Uint8Array): Promise<OrtModule.InferenceSession>;
  /** GFLOP/s of the pure-FMA kernel, measured first in the same run. */
  ceilingGflops: number;
  log(message: string): void;
}

export interface BenchCase {
  name: string;
  run(env: BenchEnv): Promise<BenchRow[]>;
}
