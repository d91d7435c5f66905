// Probe: device acquisition, limits, typed errors and device loss on the page's real WebGPU.
import { GpuContext } from '../../../src/gpu/context.ts';
import type { GpuDeviceInfo } from '../../../src/gpu/device.ts';
import { avgPool } from '../../../src/kernels/avg-pool.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';

export interface DeviceReport {
  info: GpuDeviceInfo;
  cappedBindingSize: number;
  limitTooSmall: ThrownError | null;
  noWebGpu: ThrownError | null;
  afterLoss: ThrownError | null;
  lostListenerCalled: boolean;
  pipelineReuse: { before: number; after: number };
}

export async function deviceProbe(): Promise<DeviceReport> {
  const ctx = await GpuContext.create();
  const capped = await GpuContext.create({ capLimits: { maxStorageBufferBindingSize: 128 << 20 } });
  const limitTooSmall = await describeErrorForTest(() =>
    GpuContext.create({ minimumLimits: { maxStorageBufferBindingSize: 2 ** 52 } }),
  );
  const noWebGpu = await describeErrorForTest(() =>
    GpuContext.create({ gpu: { requestAdapter: async () => null } as unknown as GPU }),
  );

  const shape = { batch: 1, height: 4, width: 4, channels: 3, scale: 2 };
  const tokens = new Float32Array(48);
  await avgPool(ctx, shape, tokens);
  const before = ctx.pipelines.size;
  await avgPool(ctx, { ...shape, height: 6, width: 6, channels: 5 }, new Float32Array(180));
  const after = ctx.pipelines.size;

  let lostListenerCalled = false;
  capped.loss.onLost(() => {
    lostListenerCalled = true;
  });
  capped.device.destroy();
  await capped.device.lost;
  const afterLoss = await describeErrorForTest(() => avgPool(capped, shape, tokens));
  ctx.dispose();
  return {
    info: ctx.info,
    cappedBindingSize: capped.info.limits.maxStorageBufferBindingSize,
    limitTooSmall,
    noWebGpu,
    afterLoss,
    lostListenerCalled,
    pipelineReuse: { before, after },
  };
}
