// Every ONNX graph of the tiny package, run in onnxruntime-node (CPU) on the golden inputs written by the
// torch reference (tests/fixtures/goldens/<component>.safetensors): every golden output must agree within
// max(1e-5, 1e-4·|golden|) at float32; integer outputs exactly. One test per component; a component absent
// from the package or without goldens fails with a message naming it.
import { expect, test } from '@playwright/test';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ComponentName } from '../../src/model/manifest.ts';
import { onnxRoles, reportProblems, reportSummary, runComponentGoldens, type GraphUnderTest, type TensorClass } from './golden-runner.ts';
import { COMPONENTS, goldensOf, manifestWith, PACKAGE_DIR } from './tiny-package.ts';

async function checkComponent(component: ComponentName): Promise<void> {
  const manifest = manifestWith(component);
  const goldens = goldensOf(component);
  const roles = onnxRoles(manifest, component);
  expect(roles.length, `component ${component} lists no .onnx graph`).toBeGreaterThan(0);
  const graphs: GraphUnderTest[] = [];
  try {
    for (const { role, path } of roles) {
      // A file path lets ORT find `<graph>.onnx.data` next to it.
      const session = await ort.InferenceSession.create(join(PACKAGE_DIR, path), { executionProviders: ['cpu'] });
      graphs.push({ role, path, session: session as never });
    }
    const report = await runComponentGoldens(component, graphs, goldens, ort.Tensor as unknown as TensorClass);
    test.info().annotations.push({ type: 'parity', description: reportSummary(report) });
    console.log(reportSummary(report));
    expect(report.runs.length, `no golden run for ${component}`).toBeGreaterThan(0);
    expect(reportProblems(report)).toEqual([]);
  } finally {
    for (const g of graphs) await (g.session as unknown as ort.InferenceSession).release();
  }
}

for (const component of COMPONENTS) {
  test(`${component}: every ONNX graph matches the torch goldens in onnxruntime-node`, async () => {
    await checkComponent(component);
  });
}
