// The adapter's compute ceiling: a pure-FMA kernel's GFLOP/s. Other cases report their achieved GFLOP/s
// as a fraction of it. Its row has no baseline (baseline_ms = ours_ms, speedup 1).
import source from '../../shaders/fma_ceiling.wgsl?raw';
import type { KernelDefinition } from '../../src/gpu/kernel.ts';
import { timeMedian } from '../timing.ts';
import type { BenchCase, BenchEnv, BenchRow } from '../types.ts';

const fmaKernel: KernelDefinition = { name: 'fma_ceiling', source, entryPoint: 'main' };
const WORKGROUP_SIZE = 256;
const WORKGROUPS = 128;
const ITERATIONS = 2048;
const FLOP_PER_ITERATION = 8 * 8;

export async function measureCeiling(env: Pick<BenchEnv, 'ctx'>): Promise<{ gflops: number; ms: number }> {
  const { ctx } = env;
  const threads = WORKGROUP_SIZE * WORKGROUPS;
  const sink = ctx.pool.acquire(threads * 16, GPUBufferUsage.STORAGE, 'fma.sink');
  const timing = await timeMedian(async () => {
    const rec = ctx.recorder('fma_ceiling');
    rec.dispatch({
      kernel: fmaKernel,
      spec: { constants: { WORKGROUP_SIZE } },
      uniforms: { iterations: ITERATIONS, seed: 0.5 },
      bindings: [sink],
      workgroups: [WORKGROUPS],
    });
    rec.submit();
    await ctx.device.queue.onSubmittedWorkDone();
  }, { warmup: 2, runs: 7 });
  ctx.pool.release(sink);
  const flops = threads * ITERATIONS * FLOP_PER_ITERATION;
  return { gflops: flops / (timing.median_ms * 1e6), ms: timing.median_ms };
}

export const fmaCeilingCase: BenchCase = {
  name: 'fma_ceiling',
  async run(env): Promise<BenchRow[]> {
    const { gflops, ms } = await measureCeiling(env);
    return [
      {
        name: 'fma_ceiling',
        shape: `${WORKGROUPS}×${WORKGROUP_SIZE} threads × ${ITERATIONS} iterations × 8 vec4 fma`,
        ours_ms: ms,
        baseline: 'none (ceiling)',
        baseline_ms: ms,
        speedup: 1,
        ours_gflops: gflops,
        fraction_of_ceiling: 1,
      },
    ];
  },
};
