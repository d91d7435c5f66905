// The GPU foundation on the browser's real WebGPU: features, limits, typed errors, loss, pipeline cache.
import { expect, test } from './fixtures.ts';

test('acquires a device, reports features and limits, types its errors', async ({ harnessPage }) => {
  const report = await harnessPage.evaluate(() => window.harness.device());
  expect(typeof report.info.features.shaderF16).toBe('boolean');
  expect(report.info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
  expect(report.info.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
  expect(report.cappedBindingSize).toBe(128 << 20);
  expect(report.limitTooSmall).toMatchObject({ name: 'GpuLimitError', code: 'gpu-limit' });
  expect(report.limitTooSmall?.message).toContain('maxStorageBufferBindingSize');
  expect(report.noWebGpu).toMatchObject({ name: 'WebGPUUnavailableError', code: 'webgpu-unavailable' });
  expect(report.afterLoss).toMatchObject({ name: 'DeviceLostError', code: 'device-lost' });
  expect(report.lostListenerCalled).toBe(true);
  expect(report.pipelineReuse.after).toBe(report.pipelineReuse.before);
});

test('a kernel that does not compile is a GpuKernelError at its read-back and when asked for again, not zeros; other kernels still run', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(() => window.harness.kernelError());
  expect(r.readBack).toMatchObject({ name: 'GpuKernelError', code: 'gpu-kernel' });
  expect(r.readBack?.message).toContain('test.infinite_constant');
  expect(r.askedAgain).toMatchObject({ name: 'GpuKernelError', code: 'gpu-kernel' });
  expect(r.otherKernelWorks).toBe(true);
  expect(r.inUseAfter).toBe(r.inUseBefore);
});
