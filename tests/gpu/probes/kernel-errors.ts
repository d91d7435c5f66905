// Probe: a WGSL kernel that does not compile on this device is reported as a typed error, not read back as
// zeros; the context keeps working for every other kernel.
import { avgPool } from '../../../src/kernels/avg-pool.ts';
import type { KernelDefinition } from '../../../src/gpu/kernel.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';
import { gpu } from './context.ts';

// A constant expression may not be infinite (WGSL §8.7): the module is invalid on every device.
const brokenKernel: KernelDefinition = {
  name: 'test.infinite_constant',
  source: `
const INF: f32 = bitcast<f32>(0x7f800000u);
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() {
  out[0] = INF;
}`,
  entryPoint: 'main',
};

export interface KernelErrorReport {
  readBack: ThrownError | null;
  askedAgain: ThrownError | null;
  otherKernelWorks: boolean;
  inUseBefore: number;
  inUseAfter: number;
}

export async function kernelErrorProbe(): Promise<KernelErrorReport> {
  const ctx = await gpu();
  const inUseBefore = ctx.pool.stats().inUseBytes;
  const out = ctx.upload(Float32Array.of(7), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, 'test.out');
  const run = async () => {
    const rec = ctx.recorder('test.broken');
    rec.dispatch({ kernel: brokenKernel, bindings: [out], workgroups: [1] });
    const staging = rec.copyToStaging(out, 0, 4);
    rec.submit();
    return new Float32Array(await ctx.mapStaging(staging, 4));
  };
  const readBack = await describeErrorForTest(run);
  const askedAgain = await describeErrorForTest(run);
  out.destroy();
  const pooled = await avgPool(ctx, { batch: 1, height: 2, width: 2, channels: 1, scale: 2 }, Float32Array.of(1, 2, 3, 6));
  return { readBack, askedAgain, otherKernelWorks: pooled[0] === 3, inUseBefore, inUseAfter: ctx.pool.stats().inUseBytes };
}
