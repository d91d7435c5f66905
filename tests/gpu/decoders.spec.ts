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

const greedy = { temperature: 0, topK: 0, topP: 1 };
/** A conditional min-p strict enough to drop codes the tiny package's flat logits would otherwise draw. */
const CFG_MIN_P = 0.5;

test('LLM: the first image token drawn with fixed uniforms equals sampleReference on the golden logits', async ({ harnessPage }) => {
  for (const sampling of [{ temperature: 1, topK: 20, topP: 0.8 }, { temperature: 0.7, topK: 0, topP: 1 }]) {
    const r = await harnessPage.evaluate(async (s) => (await window.harness.decoders()).llmAgreement(s, 5), sampling);
    expect(r.topPClear, 'top-p limit too close to a cumulative boundary for a meaningful comparison').toBe(true);
    expect(r.gpu).toEqual(r.reference);
    expect(r.distinct, `draws with ${JSON.stringify(sampling)} should not all pick one token`).toBeGreaterThan(1);
  }
});

test('AR-DTok: the first code drawn with CFG and fixed uniforms equals sampleReference on the golden logits', async ({ harnessPage }) => {
  for (const sampling of [{ temperature: 1, topK: 0, topP: 1 }, { temperature: 1, topK: 10, topP: 0.8 }]) {
    const r = await harnessPage.evaluate(async (s) => (await window.harness.decoders()).ardtokAgreement(s, 5), sampling);
    expect(r.topPClear).toBe(true);
    expect(r.gpu).toEqual(r.reference);
    expect(r.distinct).toBeGreaterThan(1);
  }
});

test('AR-DTok: with cfgMinP the first code drawn equals sampleReference with the conditional filter', async ({ harnessPage }) => {
  const sampling = { temperature: 1, topK: 0, topP: 1, cfgMinP: CFG_MIN_P };
  const r = await harnessPage.evaluate(async (s) => (await window.harness.decoders()).ardtokAgreement(s, 12), sampling);
  console.log(`ardtok cfgMinP ${CFG_MIN_P}: drawn ${r.gpu.join(',')}; unfiltered ${r.unfiltered.join(',')}`);
  expect(r.gpu).toEqual(r.reference);
  expect(r.distinct).toBeGreaterThan(1);
  expect(r.gpu, 'the filter should change some draws, or this test cannot tell it was applied').not.toEqual(r.unfiltered);
});

test('LLM generateImage: exactly grid(scale)² in-range indices for scales 1, 2, 3; KV tensors constant over steps', async ({ harnessPage }) => {
  for (const scale of [1, 2, 3]) {
    const r = await harnessPage.evaluate(async (s) => (await window.harness.decoders()).llmImage(s, 5), scale);
    console.log(`llm scale ${scale}: ${r.expected} tokens, ${r.msPerToken.toFixed(1)} ms/token (tiny model, SwiftShader)`);
    expect(r.indices.length, `scale ${scale}`).toBe(r.expected);
    expect(r.callbacks).toBe(r.expected);
    expect(r.inRange).toBe(true);
    expect(r.liveDuring).toEqual(new Array(r.expected).fill(r.kvTensors));
    expect(r.liveAfter).toBe(0);
  }
});

test('LLM generateImage: the same seed gives the same tokens, another seed others', async ({ harnessPage }) => {
  const [a, b, c] = await harnessPage.evaluate(async () => {
    const p = await window.harness.decoders();
    return [await p.llmImage(2, 7), await p.llmImage(2, 7), await p.llmImage(2, 8)];
  });
  expect(a.indices).toEqual(b.indices);
  expect(a.indices).not.toEqual(c.indices);
});

for (const [condMinP, negativeIs] of [[null, 'shorter'], [0.3, 'shorter'], [null, 'longer']] as const) {
  test(`LLM generateImage with prompt guidance (conditional min-p ${condMinP ?? 'off'}, negative prompt ${negativeIs}): each token is sampleReference on l_u + s(l_c − l_u) of the two sequences run alone; one batched cache, freed`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate(async ([p, n]) => (await window.harness.decoders()).llmGuided(3, 6, p, n), [condMinP, negativeIs] as const);
    expect(r.error?.name).toBe('AbortError');
    expect(r.drawn.length).toBe(6);
    expect(r.drawn).toEqual(r.reference);
    expect(r.unguidedDiffer, 'guidance 3 should change some draws of the tiny model').toBeGreaterThan(0);
    expect(r.liveDuring).toEqual(new Array(6).fill(r.kvTensors));
    expect(r.liveAfter).toBe(0);
    expect(r.inUseAfter).toBe(r.inUseBefore);
  });
}

test('LLM generateText: greedy with the KV cache equals re-prefilling without it; respects maxNewTokens', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async (g) => (await window.harness.decoders()).llmText(null, 10, g, 1), greedy);
  expect(r.ids.length).toBeGreaterThan(0);
  expect(r.ids).toEqual(r.uncached);
  expect(r.ids.length).toBe(r.ids.some((id) => r.stops.includes(id)) ? r.ids.findIndex((id) => r.stops.includes(id)) + 1 : 10);
  for (const seed of [1, 2, 3]) {
    const s = await harnessPage.evaluate(async (x) => (await window.harness.decoders()).llmText(null, 5, { temperature: 1, topK: 0, topP: 1 }, x), seed);
    expect(s.ids.length).toBeLessThanOrEqual(5);
    const firstStop = s.ids.findIndex((id) => s.stops.includes(id));
    expect(s.ids.length).toBe(firstStop >= 0 ? firstStop + 1 : 5);
  }
});

test('LLM answerLogProb: log p(answer | prompt) equals the log-softmax of the cached step-by-step logits; typed errors; frees its cache', async ({ harnessPage }) => {
  for (const answer of [[7], [5, 17, 3, 40, 2]]) {
    const r = await harnessPage.evaluate(async (a) => (await window.harness.decoders()).llmAnswerScore(a), answer);
    expect(r.score).toBeLessThan(0);
    expect(Math.abs(r.score - r.stepwise)).toBeLessThan(1e-3 * answer.length);
    expect(r.liveAfter).toBe(0);
    expect(r.inUseAfter).toBe(r.inUseBefore);
    expect(r.errors.emptyAnswer?.name).toBe('InvalidArgumentError');
    expect(r.errors.emptyPrompt?.name).toBe('InvalidInputError');
    expect(r.errors.pastContext?.name).toBe('InvalidArgumentError');
    expect(r.errors.pastContext?.message).toContain('exceed the context');
    expect(r.errors.idOutsideVocab?.name).toBe('InvalidInputError');
    expect(r.errors.aborted?.name).toBe('AbortError');
  }
});

test('LLM generateText stops at <|im_end|>/eos (a prompt whose greedy next token is a stop id)', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async (g) => {
    const p = await window.harness.decoders();
    const { stops } = await p.llmText([1], 1, g, 1);
    const candidates = stops.flatMap((t) => [[t], [t, t]]);
    const next = await p.llmGreedyNext(candidates);
    const i = next.findIndex((id) => stops.includes(id));
    if (i < 0) return { found: false, ids: [] as number[], expected: -1 };
    const text = await p.llmText(candidates[i] as number[], 20, g, 1);
    return { found: true, ids: text.ids, expected: next[i] as number };
  }, greedy);
  expect(r.found, 'no candidate prompt predicts a stop id greedily (tiny package changed?)').toBe(true);
  expect(r.ids).toEqual([r.expected]);
});

const viewSettings = [
  ['greedy', { temperature: 0, topK: 0, topP: 1 }],
  ['sampled', { temperature: 0.9, topK: 20, topP: 0.9 }],
  ['greedy with a repetition penalty', { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.3 }],
] as const;
for (const [name, sampling] of viewSettings) {
  test(`LLM generateText over three views (${name}) draws from the mean of their log-probabilities, as the CPU chain does`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate(async (s) => (await window.harness.decoders()).llmViews(s, 7), sampling);
    expect(r.ids.length).toBeGreaterThan(0);
    expect(r.ids).toEqual(r.reference);
    expect(r.ids, 'the views changed nothing: the test would not see them ignored').not.toEqual(r.plain);
    expect(r.liveAfter).toBe(0);
    expect(r.inUseAfter).toBe(r.inUseBefore);
  });
}

for (const [which, k] of [['llm', 3], ['ardtok', 2]] as const) {
  test(`${which}: abort after ${k} tokens stops within one token, rejects with AbortError, frees pool buffers and tensors`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate(async ([w, n]) => (await window.harness.decoders()).abortAfter(w, n), [which, k] as const);
    expect(r.error?.name).toBe('AbortError');
    expect(r.received).toBeGreaterThanOrEqual(k);
    expect(r.received).toBeLessThanOrEqual(k + 1);
    expect(r.inUseAfter).toBe(r.inUseBefore);
    expect(r.liveAfter).toBe(0);
  });
}

for (const which of ['llm', 'ardtok'] as const) {
  test(`${which}: 20 consecutive generations do not grow the pool or the live tensors`, async ({ harnessPage }) => {
    const r = await harnessPage.evaluate(async (w) => (await window.harness.decoders()).repeat(w, 20, 3), which);
    console.log(`${which} repeat: pool allocated ${r.allocatedAfter[0]} → ${r.allocatedAfter[19]} bytes`);
    expect(new Set(r.allocatedAfter.slice(1)).size).toBe(1);
    expect(r.allocatedAfter[19]).toBe(r.allocatedAfter[0]);
    expect(new Set(r.inUseAfter).size).toBe(1);
    expect(r.liveAfter).toEqual(new Array(20).fill(0));
    expect(new Set(r.liveDuring)).toEqual(new Set([r.kvTensors]));
  });
}

test('AR-DTok generate: maxSeqLen in-range codes by default, reproducible per seed', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.decoders()).ardtokGenerate(null));
  for (const codes of r.codes) {
    expect(codes.length).toBe(r.maxSeqLen);
    expect(codes.every((c) => c < r.vocab)).toBe(true);
  }
  expect(r.callbacks).toBe(3 * r.maxSeqLen);
  expect(r.codes[1]).toEqual(r.codes[0]);
  expect(r.codes[2]).not.toEqual(r.codes[0]);
});

test('AR-DTok generate at cfgScale 1 runs the conditional row alone: each code is sampleReference on the CFG run\'s conditional logits; frees its cache', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.decoders()).ardtokUnguided());
  expect(r.drawn.length).toBeGreaterThan(1);
  expect(r.drawn).toEqual(r.reference);
  expect(r.guidedDiffer, 'guidance 3 on the same rows should draw other codes somewhere').toBeGreaterThan(0);
  expect(r.liveAfter).toBe(0);
  expect(r.inUseAfter).toBe(r.inUseBefore);
});

test('decoders: typed errors for unknown scale, prompt tail, context length, ids, settings, feature shapes', async ({ harnessPage }) => {
  const r = await harnessPage.evaluate(async () => (await window.harness.decoders()).decoderErrors());
  expect(r.unknownScale?.name).toBe('InvalidArgumentError');
  expect(r.unknownScale?.message).toContain('unknown scale 4');
  expect(r.wrongPromptTail?.name).toBe('InvalidInputError');
  expect(r.wrongNegativeTail?.name).toBe('InvalidInputError');
  expect(r.wrongNegativeTail?.message).toContain('negative image prompt');
  expect(r.contextTooLong?.name).toBe('InvalidArgumentError');
  expect(r.contextTooLong?.message).toContain('exceed the context');
  expect(r.idOutsideVocab?.name).toBe('InvalidInputError');
  expect(r.badTopP?.name).toBe('InvalidArgumentError');
  expect(r.featuresNotRows?.name).toBe('InvalidInputError');
  expect(r.featuresNotFinite?.name).toBe('InvalidInputError');
  expect(r.tooManyCodes?.name).toBe('InvalidArgumentError');
});
