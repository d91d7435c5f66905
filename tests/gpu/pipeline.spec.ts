// The engine end to end on the tiny package in headless Chromium: the torch reference reproduced with fixed
// uniforms, determinism, cancellation, bad input, GPU memory over 20 jobs, streaming and previews, and the
// worker client with typed errors.
import type { Route } from '@playwright/test';
import { expect, test } from './fixtures.ts';

test.describe.configure({ timeout: 600_000 });

test('imagine, chat and understanding reproduce the torch reference with fixed uniforms', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).golden());
  expect(r.tokens).toEqual(r.expectedTokens);
  expect(r.llmSteps).toBe(r.expectedTokens.length);
  expect(r.llmStepError).toBeLessThanOrEqual(1e-4);
  expect(r.detokStepError).toBeLessThanOrEqual(1e-4);
  expect(r.pixelMaxDiff).toBeLessThanOrEqual(1);
  expect(r.pixelsOffByOne).toBeLessThan(r.pixelCount / 100);
  expect(r.understandIndices).toEqual(r.expectedUnderstandIndices);
  expect(r.chatIds).toEqual(r.expectedChatIds);
});

test('chat with test-time views reproduces the torch reference: each view read as torch reads it, each step combined as torch combines it, the same answer', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).viewsGolden());
  expect(r.viewIndices).toEqual(r.expectedViewIndices);
  expect(r.steps).toBe(r.expectedChatIds.length);
  expect(r.meanLogProbsError).toBeLessThanOrEqual(1e-4);
  expect(r.chatIds).toEqual(r.expectedChatIds);
  expect(r.textOnlySame).toBe(true);
});

test('the same seed gives the same image; another seed another one', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).seeds());
  expect(r).toEqual({ sameTokens: true, samePixels: true, otherSeedDiffers: true });
});

test('prompt guidance: promptCfg 1 is no guidance; another scale or negative prompt draws other tokens, reproducibly', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).guidance());
  expect(r).toEqual({ explicitOneSameAsDefault: true, guidedDiffers: true, guidedReproducible: true, negativePromptDiffers: true });
});

test('self-check: each image keeps the best-scored of its candidates, whose score is its picture read back; candidate 0 is the plain image', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).selfCheck(3));
  expect(r.images).toBe(2);
  expect(r.selfCheckProgress).toBe(2 * 3);
  for (const [i, image] of r.reported.entries()) {
    expect(image.scores).toHaveLength(3);
    for (const score of image.scores) expect(score).toBeLessThan(0);
    expect(image.candidate).toBe(image.argmax);
    expect(Math.abs((image.scores[image.candidate] as number) - (r.rescoredKept[i] as number))).toBeLessThan(1e-3);
    expect(Math.abs((image.scores[0] as number) - (r.rescoredPlain[i] as number))).toBeLessThan(1e-3);
  }
  expect(new Set(r.reported.flatMap((image) => image.scores)).size, 'candidates draw different pictures').toBeGreaterThan(3);
  expect(r.inUseAfter).toBe(r.inUseBefore);
});

test('round trip: each image keeps the drawing its tokens read back from most, as read here; drawing 0 is the plain image', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).roundTrip(3));
  expect(r.agreements).toHaveLength(3);
  expect(r.drawing).toBe(r.argmax);
  expect(r.agreements[r.drawing]).toBe(r.rereadKept);
  expect(r.redrawnAgreements).toEqual(r.agreements);
  expect(r.keptIsRedrawn).toBe(true);
  expect(r.drawingsDiffer, 'drawings draw different pictures').toBe(true);
  expect(r.plainSameTokens).toBe(true);
  expect(r.plainIsDrawing0).toBe(true);
  expect(r.plainHasRoundTrip).toBe(false);
  expect(r.roundTripProgress).toBe(3);
  expect(r.roundTripMs).toBeGreaterThan(0);
  expect(r.withSelfCheck).toEqual({ agreements: 2, scores: 2, roundTripProgress: 2 * 2 });
  expect(r.inUseAfter).toBe(r.inUseBefore);
  test.info().annotations.push({ type: 'round-trip agreements', description: JSON.stringify(r.agreements) });
});

const CANCELS = [
  ['cancel', 'cancel stops within one token, frees its GPU buffers, and the next job runs'],
  ['selfCheckCancel', 'cancelling a self-checked job between candidates stops it, frees its GPU buffers, and the next job runs'],
  ['roundTripCancel', 'cancelling a job between drawings stops it, frees its GPU buffers, and the next job runs'],
] as const;

for (const [probe, title] of CANCELS) {
  test(title, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate(async (name) => (await window.harness.pipeline())[name](), probe);
    expect(r.error).toMatchObject({ name: 'AbortError' });
    expect(r.llmEventsAfterAbort).toBeLessThanOrEqual(1);
    expect(r.inUseAfter).toBe(r.inUseBefore);
    expect(r.nextJobImages).toBe(1);
  });
}

test('bad input gives typed errors and the engine keeps serving', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).badInput());
  expect(r.errors.notAnImage).toMatchObject({ name: 'InvalidInputError' });
  expect(r.errors.emptyImage).toMatchObject({ name: 'InvalidInputError' });
  expect(r.errors.hugeImage).toMatchObject({ name: 'InvalidInputError' });
  expect(r.errors.emptyPrompt).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.longPrompt).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.unknownScale).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.unknownSize).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.badTopP).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.badPromptCfg).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.noCandidates?.message).toContain('candidates = 0: must be an integer in [1, 16]');
  expect(r.errors.tooManyCandidates).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.candidatesWithUniforms?.message).toContain('explicit uniforms');
  expect(r.errors.noDrawings?.message).toContain('drawings = 0: must be an integer in [1, 16]');
  expect(r.errors.tooManyDrawings?.message).toContain('drawings = 17: must be an integer in [1, 16]');
  expect(r.errors.drawingsWithUniforms?.message).toContain('explicit uniforms');
  expect(r.errors.selfCheckPastContext).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.selfCheckPastContext?.message).toContain('exceed the context');
  expect(r.errors.longNegativePrompt).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.errors.noViews?.message).toContain('views = 0: must be an integer in [1, 9]');
  expect(r.errors.tooManyViews).toMatchObject({ name: 'InvalidArgumentError' });
  expect(r.servedAfter).toBe(true);
});

test('20 consecutive jobs do not grow GPU memory', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).manyJobs(20));
  const settled = r.allocated.slice(5);
  expect(new Set(settled).size).toBe(1);
  expect(new Set(r.inUse).size).toBe(1);
});

test('imagine streams progress and previews for every image, pipelines two images; chat streams tokens', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).stream());
  expect(r.images.map((i) => [i.image, i.seed])).toEqual([[0, 11], [1, 12]]);
  expect(r.images.every((i) => i.width === 64 && i.height === 64)).toBe(true);
  expect(r.previews[0]).toBeGreaterThan(0);
  expect(r.previews[1]).toBeGreaterThan(0);
  expect(r.phases.sort()).toEqual(['detokenize', 'llm', 'vq-decode']);
  for (const phase of ['llm', 'tatok-decode', 'detokenize', 'vq-decode']) expect(r.timings[phase]).toBeGreaterThan(0);
  expect(r.tokensStreamed).toBeGreaterThan(0);
  test.info().annotations.push({ type: 'imagine timings (ms)', description: JSON.stringify(r.timings) });
});

test('the worker client has the same interface, typed errors and cancellation', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.pipeline()).worker());
  expect(r.imageSize).toEqual([64, 64]);
  expect(r.typedError).toMatchObject({ name: 'InvalidArgumentError', isInvalidArgument: true });
  expect(r.cancelled).toMatchObject({ name: 'AbortError' });
  expect(r.afterCancel).toBeGreaterThan(0);
});

const START_FAILURE_TITLE =
  'a worker whose script does not load, or throws while loading, is an EngineWorkerError, not a load that never ends';

test(START_FAILURE_TITLE, async ({ browser }) => {
  const page = await browser.newPage();
  try {
    await page.goto('/tests/gpu/harness.html');
    await page.waitForSelector('body[data-ready="true"]');
    const failures: Record<string, Parameters<Route['fulfill']>[0]> = {
      missing: { status: 404, body: 'not found' },
      throwing: {
        status: 200,
        headers: { 'Content-Type': 'text/javascript', 'Cross-Origin-Embedder-Policy': 'require-corp' },
        body: "throw new Error('broken build');",
      },
    };
    for (const [kind, response] of Object.entries(failures)) {
      await page.route('**/engine-worker.ts?*', (route) => route.fulfill(response));
      const thrown = await page.evaluate(async () => (await window.harness.pipeline()).workerStartFailure());
      expect(thrown, kind).toMatchObject({ name: 'EngineWorkerError', code: 'engine-worker' });
      expect(thrown?.message, kind).toMatch(kind === 'throwing' ? /broken build/ : /script did not load/);
      await page.unrouteAll();
    }
  } finally {
    await page.close();
  }
});
