// onnxruntime-web shares the engine's GPUDevice: GPU buffers flow both ways, and releasing ORT's last
// session leaves the device usable for our kernels (ENVIRONMENT.md reported ORT dropping a device it made).
import { expect, test } from './fixtures.ts';

test('ORT runs a built graph on our device, with our buffers in and out, and leaves the device alive', async ({ harnessPage }) => {
  const report = await harnessPage.evaluate(() => window.harness.ortShared());
  expect(report.sameDevice).toBe(true);
  expect(report.argmax).toEqual(report.expectedArgmax);
  expect(report.scaledMaxError).toBe(0);
  expect(report.poolMismatchesAfterRelease).toBe(0);
});
