// Job options (pure logic): resolveImagine's self-check candidates (default from the manifest, their range, and what
// more than one candidate needs: a selfCheckQuestion, seeded rather than listed uniforms) and resolveChat's
// test-time views (default from the manifest, their range), and its round-trip drawings (default from the manifest,
// their range, seeded rather than listed uniforms); the de-tokenizer's conditional min-p (from the manifest, for
// imagine and vary).
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { InvalidArgumentError } from '../../src/errors.ts';
import { parseManifest, type Manifest } from '../../src/model/manifest.ts';
import { resolveChat, resolveImagine, resolveVary } from '../../src/pipeline/options.ts';

function tinyManifest(edit: (raw: any) => void = () => undefined): Manifest {
  const raw = JSON.parse(readFileSync(new URL('../../public/models/tiny/manifest.json', import.meta.url), 'utf8'));
  edit(raw);
  return parseManifest(raw);
}

test('one candidate and no question by default; more carry the package question', () => {
  const manifest = tinyManifest();
  const plain = resolveImagine(manifest, { prompt: 'a cat' });
  expect(plain.candidates).toBe(1);
  expect(plain.selfCheckQuestion).toBeUndefined();
  const checked = resolveImagine(manifest, { prompt: 'a cat', candidates: 4 });
  expect(checked).toMatchObject({ candidates: 4, selfCheckQuestion: manifest.sampling.textToImage.selfCheckQuestion });
  const byDefault = resolveImagine(tinyManifest((m) => (m.sampling.textToImage.candidates = 3)), { prompt: 'a cat' });
  expect(byDefault.candidates).toBe(3);
  expect(resolveImagine(tinyManifest((m) => (m.sampling.textToImage.candidates = 3)), { prompt: 'a cat', candidates: 1 }).selfCheckQuestion).toBeUndefined();
});

test("the de-tokenizer's cfgMinP comes from the manifest when it names one, for imagine and vary alike", () => {
  expect(resolveImagine(tinyManifest(), { prompt: 'a cat' }).detok.cfgMinP).toBeUndefined();
  const filtered = tinyManifest((m) => (m.sampling.detokenizer.cfgMinP = 0.3));
  expect(resolveImagine(filtered, { prompt: 'a cat' }).detok).toMatchObject({ cfgMinP: 0.3 });
  expect(resolveImagine(filtered, { prompt: 'a cat', cfg: 2 }).detok).toMatchObject({ cfgScale: 2, cfgMinP: 0.3 });
  expect(resolveVary(filtered, { image: new Blob() }).detok.cfgMinP).toBe(0.3);
});

test('bad candidates, and candidates the package or the options cannot serve, are InvalidArgumentErrors', () => {
  const manifest = tinyManifest();
  for (const candidates of [0, -1, 1.5, 17, Number.NaN]) {
    expect(() => resolveImagine(manifest, { prompt: 'a cat', candidates })).toThrow(InvalidArgumentError);
  }
  const noQuestion = tinyManifest((m) => delete m.sampling.textToImage.selfCheckQuestion);
  expect(() => resolveImagine(noQuestion, { prompt: 'a cat', candidates: 2 })).toThrow(/selfCheckQuestion/);
  expect(resolveImagine(noQuestion, { prompt: 'a cat' }).candidates).toBe(1);
  const listed = { llm: [0.5], detok: [0.5] };
  expect(() => resolveImagine(manifest, { prompt: 'a cat', candidates: 2, uniforms: listed })).toThrow(/explicit uniforms/);
  expect(resolveImagine(manifest, { prompt: 'a cat', uniforms: listed }).candidates).toBe(1);
});

test('one drawing by default, the package default when it names one; counts outside [1, 16] and more than one with explicit uniforms refused', () => {
  const manifest = tinyManifest();
  expect(resolveImagine(manifest, { prompt: 'a cat' }).drawings).toBe(1);
  expect(resolveImagine(manifest, { prompt: 'a cat', drawings: 16 }).drawings).toBe(16);
  const byDefault = tinyManifest((m) => (m.sampling.detokenizer.drawings = 3));
  expect(resolveImagine(byDefault, { prompt: 'a cat' }).drawings).toBe(3);
  expect(resolveImagine(byDefault, { prompt: 'a cat', drawings: 1 }).drawings).toBe(1);
  for (const drawings of [0, -1, 1.5, 17, Number.NaN]) {
    expect(() => resolveImagine(manifest, { prompt: 'a cat', drawings })).toThrow(InvalidArgumentError);
  }
  expect(() => resolveImagine(manifest, { prompt: 'a cat', drawings: 0 })).toThrow('drawings = 0: must be an integer in [1, 16]');
  expect(() => resolveImagine(manifest, { prompt: 'a cat', drawings: 1.5 })).toThrow('drawings = 1.5: must be an integer in [1, 16]');
  expect(() => resolveImagine(manifest, { prompt: 'a cat', drawings: 17 })).toThrow('drawings = 17: must be an integer in [1, 16]');
  const listed = { llm: [0.5], detok: [0.5] };
  expect(() => resolveImagine(manifest, { prompt: 'a cat', drawings: 2, uniforms: listed })).toThrow(/explicit uniforms/);
  expect(() => resolveImagine(byDefault, { prompt: 'a cat', uniforms: listed })).toThrow(InvalidArgumentError);
  expect(resolveImagine(manifest, { prompt: 'a cat', uniforms: listed }).drawings).toBe(1);
});

test('chat views: the package default (one), an override, and counts outside [1, 9] refused', () => {
  const messages = [{ role: 'user' as const, text: 'what is it?' }];
  expect(resolveChat(tinyManifest(), { messages }).views).toBe(1);
  expect(resolveChat(tinyManifest((m) => (m.sampling.chat.views = 5)), { messages }).views).toBe(5);
  expect(resolveChat(tinyManifest((m) => (m.sampling.chat.views = 5)), { messages, views: 1 }).views).toBe(1);
  for (const views of [0, -1, 1.5, 10, Number.NaN]) {
    expect(() => resolveChat(tinyManifest(), { messages, views })).toThrow(InvalidArgumentError);
  }
});
