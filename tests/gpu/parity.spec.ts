// Every ONNX graph of the tiny package in onnxruntime-web's WebGPU EP on the engine's shared device, against
// the torch goldens: every golden output within max(1e-4·|golden|, 1e-5·max(1, max|golden|)) at float32,
// integer outputs exact (tests/parity/golden-runner.ts). One test per component; a component absent from the
// package or without goldens fails with a message naming it.
import type { ComponentName } from '../../src/model/manifest.ts';
import { reportProblems, reportSummary } from '../parity/golden-runner.ts';
import { expect, test } from './fixtures.ts';

const components: ComponentName[] = ['tatok', 'llm', 'ardtok', 'vq'];

for (const component of components) {
  test(`${component}: every ONNX graph matches the torch goldens in onnxruntime-web (WebGPU)`, async ({ harnessPage }) => {
    const report = await harnessPage.evaluate((c) => window.harness.parity(c), component);
    test.info().annotations.push({ type: 'parity', description: reportSummary(report) });
    console.log(reportSummary(report));
    expect(report.runs.length, `no golden run for ${component}`).toBeGreaterThan(0);
    expect(reportProblems(report)).toEqual([]);
  });
}
