// TarTokenizer in headless Chromium (the browser build of @huggingface/tokenizers, the package over HTTP): the
// same golden prompt ids as in Node (tests/unit/tokenizer.spec.ts), a chat prompt with image ids, a typed error.
import { expect, test } from './fixtures.ts';

test('TarTokenizer in the page: golden prompt ids, chat prompt with image ids, InvalidArgumentError', async ({ harnessPage }) => {
  const report = await harnessPage.evaluate(() => window.harness.tokenizer().then((probe) => probe()));
  test.info().annotations.push({ type: 'timing', description: `tiny tokenizer load ${report.loadMs.toFixed(0)} ms` });
  expect(report.goldenIds.length).toBeGreaterThan(10);
  expect(report.t2iIds).toEqual(report.goldenIds);
  expect(report.t2iDecoded).toBe(report.goldenText);
  expect(report.chatDecoded).toBe('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<I1><I200>\n'
    + 'What is it?<|im_end|>\n<|im_start|>assistant\n');
  expect(report.imageIds).toEqual([313, 512]);
  expect(report.emptyPrompt).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
});
