// The decoders (src/decoders/: LlmDecoder, ArDetokenizer, the GPU KV cache) on the tiny package in headless
// Chromium: logits through their own KV-cache path against the torch goldens, the GPU draw against
// sampleReference on the golden logits, token counts and ranges, stopping, determinism, cancellation and
// GPU memory over repeated generations, typed errors. Probes: tests/gpu/probes/decoders.ts.
import { expect, test } from './fixtures.ts';

test.describe.configure({ mode: 'serial' });

test('LLM: prefill and one decode step through the KV cache match the goldens (last position)', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.decoders()).llmParity());
  console.log(`llm parity: prefill max abs ${r.prefill.maxAbsError}, decode max abs ${r.decode.maxAbsError}`);
  expect(r.prefill.count).toBeGreaterThan(0);
  expect(r.prefill.mismatches).toBe(0);
  expect(r.decode.mismatches).toBe(0);
});

test('AR-DTok: prefill rows and CFG-combined logits of steps 0, 1, 2 match the goldens', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.decoders()).ardtokParity());
  console.log(`ardtok parity: prefill max abs ${r.prefillRows.maxAbsError}, cfg ${r.cfgSteps.map((c) => c.maxAbsError).join(', ')}`);
  expect(r.prefillRows.mismatches).toBe(0);
  expect(r.cfgSteps.length).toBe(3);
  for (const step of r.cfgSteps) expect(step.mismatches).toBe(0);
});
