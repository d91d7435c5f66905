// TarTokenizer on the tiny package's tokenizer (public/models/tiny/llm/tokenizer.json, read from disk through a
// ModelSource): the golden prompt ids of the torch reference, the chat templates of TAR_SPEC §2.3 as strings and
// as ids (checked against the Python encoder of tools/convert/tokenizer.py, which keeps <I..> as added tokens),
// image ids by arithmetic, typed errors for bad prompts, turns and tokenizer files.
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, TarError } from '../../src/errors.ts';
import { parseGoldens } from '../../src/model/goldens.ts';
import { findFile, parseManifest, type Manifest } from '../../src/model/manifest.ts';
import type { ModelSource } from '../../src/model/source.ts';
import { TarTokenizer, type ChatTurn } from '../../src/tokenizer/tar-tokenizer.ts';
import { TokenizerError } from '../../src/tokenizer/tokenizer-json.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGE = join(ROOT, 'public', 'models', 'tiny');
const SYSTEM = 'You are a helpful assistant.';

/** The tiny package from disk; `change` edits tokenizer.json and/or the manifest's llm tokens (to test load errors). */
function tinySource(change?: { tokenizer?: (json: any) => void; tokens?: Record<string, unknown> }): ModelSource {
  const raw = JSON.parse(readFileSync(join(PACKAGE, 'manifest.json'), 'utf8'));
  if (change?.tokens) Object.assign(raw.components.llm.tokens, change.tokens);
  const manifest: Manifest = parseManifest(raw);
  return {
    id: 'tiny-test',
    manifest,
    file: async (path) => {
      const bytes = new Uint8Array(readFileSync(join(PACKAGE, path)));
      expect(bytes.byteLength).toBe(findFile(manifest, path)?.bytes);
      if (path !== manifest.components.llm?.files.tokenizer || !change?.tokenizer) return bytes;
      const json = JSON.parse(new TextDecoder().decode(bytes));
      change.tokenizer(json);
      return new TextEncoder().encode(JSON.stringify(json));
    },
  };
}

function llmTokens() {
  const tokens = parseManifest(JSON.parse(readFileSync(join(PACKAGE, 'manifest.json'), 'utf8'))).components.llm?.tokens;
  if (!tokens) throw new Error('the tiny package has no llm component');
  return tokens;
}

/** Ids of the Python reference encoder (added tokens, <I..> included, split the text first; then BPE). */
function pythonIds(texts: string[]): number[][] {
  const script = [
    'import json, sys',
    'from tools.convert.tokenizer import Encoder',
    `encoder = Encoder(json.load(open(${JSON.stringify(join(PACKAGE, 'llm', 'tokenizer.json'))}, encoding="utf-8")))`,
    'print(json.dumps([encoder.encode(t) for t in json.loads(sys.stdin.read())]))',
  ].join('\n');
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { cwd: ROOT, input: JSON.stringify(texts), encoding: 'utf8' }));
}

async function expectError(run: () => unknown, type: new (...args: any[]) => TarError, message: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as Error).message).toMatch(message);
}

const tokens = llmTokens();
let tokenizer: TarTokenizer;

test.beforeAll(async () => {
  tokenizer = await TarTokenizer.load(tinySource());
});

test('the text-to-image prompt reproduces the golden prompt.input_ids of the torch reference', () => {
  const goldens = parseGoldens(readFileSync(join(ROOT, 'tests', 'fixtures', 'goldens', 'llm.safetensors')), 'llm goldens');
  const text = new TextDecoder().decode(goldens.tensors.get('prompt.text')?.data as Uint8Array);
  const golden = Array.from(goldens.tensors.get('prompt.input_ids')?.data as BigInt64Array, Number);
  const parsed = /^<\|im_start\|>system\n(.*)<\|im_end\|>\n<\|im_start\|>user\n(.*)<\|im_end\|>\n<\|im_start\|>assistant\n<im_start><S(\d)>$/s.exec(text);
  expect(parsed, `golden prompt text ${JSON.stringify(text)} is not the documented template`).not.toBeNull();
  const [, system, prompt, scale] = parsed as RegExpExecArray;
  expect(system).toBe(SYSTEM);
  expect(golden.length).toBeGreaterThan(10);
  expect(tokenizer.textToImagePrompt(prompt as string, Number(scale))).toEqual(golden);
  expect(tokenizer.encode(text)).toEqual(golden);
  expect(tokenizer.decode(golden)).toBe(text);
});

test('text-to-image prompts for scale 0/1/2 are the documented string and end in <im_start><S{s}>', () => {
  for (const scale of [0, 1, 2]) {
    const ids = tokenizer.textToImagePrompt('a blue square', scale);
    expect(tokenizer.decode(ids)).toBe(
      `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\na blue square<|im_end|>\n<|im_start|>assistant\n<im_start><S${scale}>`,
    );
    expect(ids.slice(-2)).toEqual([tokens.imageStartTag, tokens.scaleTokenBase + scale]);
    expect(ids.filter((id) => id === tokens.imStart)).toHaveLength(3);
  }
});

test('negative image prompts: the same template, empty text allowed, the same scale and length checks', async () => {
  expect(tokenizer.negativeImagePrompt('a blue square', 1)).toEqual(tokenizer.textToImagePrompt('a blue square', 1));
  const empty = tokenizer.negativeImagePrompt('', 2);
  expect(tokenizer.decode(empty)).toBe(`<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n<im_start><S2>`);
  await expectError(() => tokenizer.negativeImagePrompt('', tokens.scaleTokenCount), InvalidArgumentError, /scale 3/);
  await expectError(() => tokenizer.negativeImagePrompt('', 0, { contextLength: empty.length - 1 }), InvalidArgumentError, /more than/);
});

test('understanding and multi-turn chat prompts: documented strings, image ids in place, ids as the Python encoder', () => {
  const image = Uint32Array.from([0, 7, 255, 7]);
  const understanding: ChatTurn[] = [{ role: 'user', text: 'What is in the picture?', images: [image] }];
  const multi: ChatTurn[] = [
    ...understanding,
    { role: 'assistant', text: 'A red circle.' },
    { role: 'user', text: 'And the background?' },
  ];
  const head = `<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n`;
  const imageText = '<I0><I7><I255><I7>';
  const expectedUnderstanding = `${head}${imageText}\nWhat is in the picture?<|im_end|>\n<|im_start|>assistant\n`;
  const expectedMulti = `${head}${imageText}\nWhat is in the picture?<|im_end|>\n<|im_start|>assistant\nA red circle.<|im_end|>\n`
    + '<|im_start|>user\nAnd the background?<|im_end|>\n<|im_start|>assistant\n';
  const ids = tokenizer.chatPrompt(understanding);
  const multiIds = tokenizer.chatPrompt(multi);
  expect(tokenizer.decode(ids)).toBe(expectedUnderstanding);
  expect(tokenizer.decode(multiIds)).toBe(expectedMulti);
  const at = tokenizer.encode(head).length;
  expect(ids.slice(at, at + 4)).toEqual([...image].map((k) => tokens.imageTokenBase + k));
  expect(ids.filter((id) => tokenizer.codebookIndex(id) !== null)).toHaveLength(4);
  expect(ids.slice(at - 3, at)).not.toContain(tokens.imageStartTag);
  expect(ids.slice(at + 4)).not.toContain(tokens.imageEndTag);
  expect(pythonIds([expectedUnderstanding, expectedMulti])).toEqual([ids, multiIds]);
});

test('image ids are arithmetic: imageTokenId, codebookIndex (null outside the range), decode writes <I{k}>', () => {
  const last = tokens.imageTokenCount - 1;
  expect(tokenizer.imageTokenId(0)).toBe(tokens.imageTokenBase);
  expect(tokenizer.imageTokenId(last)).toBe(tokens.imageTokenBase + last);
  expect(tokenizer.codebookIndex(tokens.imageTokenBase + 5)).toBe(5);
  for (const id of [tokens.imageTokenBase - 1, tokens.imageTokenBase + tokens.imageTokenCount, tokens.imStart, 0, 1.5, -3]) {
    expect(tokenizer.codebookIndex(id)).toBeNull();
  }
  for (const k of [-1, tokens.imageTokenCount, 0.5]) {
    expect(() => tokenizer.imageTokenId(k)).toThrow(InvalidArgumentError);
  }
  expect(tokenizer.decode([tokenizer.imageTokenId(3), tokenizer.imageTokenId(last)])).toBe(`<I3><I${last}>`);
  // Text that spells an image token is plain text: no image id, and it decodes back unchanged.
  const spelled = tokenizer.encode('<I3> stays text');
  expect(spelled.some((id) => tokenizer.codebookIndex(id) !== null)).toBe(false);
  expect(tokenizer.decode(spelled)).toBe('<I3> stays text');
});

test('encode/decode round trips; special tokens are single ids and skipSpecial drops them', () => {
  for (const text of ['a red circle', 'Describe the image.\n\nWhat is in the picture?', '  two  spaces\tand a tab ', 'ünïcödé 你好 🐱']) {
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  }
  expect(tokenizer.encode('<|im_start|>')).toEqual([tokens.imStart]);
  expect(tokenizer.encode('<|im_end|>')).toEqual([tokens.imEnd]);
  const ids = tokenizer.encode('<|im_start|>user\nhi<|im_end|>');
  expect(tokenizer.decode(ids, { skipSpecial: true })).toBe('user\nhi');
  expect(tokenizer.decode([])).toBe('');
  expect(tokenizer.decode([tokens.imStart, tokens.imEnd], { skipSpecial: true })).toBe('');
  expect(() => tokenizer.decode([tokens.imageTokenBase + tokens.imageTokenCount])).toThrow(InvalidArgumentError);
  expect(() => tokenizer.decode([-1])).toThrow(InvalidArgumentError);
});

test('bad prompts and turns are InvalidArgumentErrors; contextLength is the most ids allowed', async () => {
  const length = tokenizer.textToImagePrompt('a red circle', 0).length;
  expect(tokenizer.textToImagePrompt('a red circle', 0, { contextLength: length })).toHaveLength(length);
  await expectError(() => tokenizer.textToImagePrompt('a red circle', 0, { contextLength: length - 1 }), InvalidArgumentError,
    new RegExp(`${length} tokens, more than the ${length - 1}`));
  await expectError(() => tokenizer.textToImagePrompt('', 0), InvalidArgumentError, /empty/);
  await expectError(() => tokenizer.textToImagePrompt(' \n\t', 0), InvalidArgumentError, /empty/);
  await expectError(() => tokenizer.textToImagePrompt('a cat', tokens.scaleTokenCount), InvalidArgumentError, /scale 3/);
  await expectError(() => tokenizer.chatPrompt([]), InvalidArgumentError, /no turns/);
  await expectError(() => tokenizer.chatPrompt([{ role: 'user', text: 'hi' }, { role: 'assistant', text: 'hello' }]),
    InvalidArgumentError, /end with a user turn/);
  await expectError(() => tokenizer.chatPrompt([{ role: 'user', text: '  ' }]), InvalidArgumentError, /turn 0: the user turn is empty/);
  await expectError(() => tokenizer.chatPrompt([{ role: 'assistant', text: 'x', images: [Uint32Array.of(1)] }, { role: 'user', text: 'y' }]),
    InvalidArgumentError, /only user turns may hold images/);
  await expectError(() => tokenizer.chatPrompt([{ role: 'user', text: 'y', images: [Uint32Array.of(1, tokens.imageTokenCount)] }]),
    InvalidArgumentError, /codebook index 256 is outside/);
  await expectError(() => tokenizer.chatPrompt([{ role: 'user', text: 'y', images: [new Uint32Array(0)] }]), InvalidArgumentError, /no codebook indices/);
  await expectError(() => tokenizer.chatPrompt([{ role: 'system' as 'user', text: 'y' }]), InvalidArgumentError, /neither/);
  // An image alone is a valid user turn.
  expect(tokenizer.decode(tokenizer.chatPrompt([{ role: 'user', text: '', images: [Uint32Array.of(2)] }])))
    .toContain('<|im_start|>user\n<I2>\n<|im_end|>');
});

test('load: a tokenizer.json that disagrees with the manifest is a TokenizerError naming the field', async () => {
  await expectError(() => TarTokenizer.load(tinySource({ tokens: { imStart: tokens.imEnd, imEnd: tokens.imStart } })),
    TokenizerError, /components\.llm\.tokens\.imStart says <\|im_start\|> is 306, but tokenizer\.json has it at 305/);
  await expectError(() => TarTokenizer.load(tinySource({
    tokenizer: (json) => { json.added_tokens.find((t: any) => t.content === '<I4>').content = '<I5>'; },
  })), TokenizerError, /token 316 is "<I5>", but .*makes it <I4>/);
  await expectError(() => TarTokenizer.load(tinySource({
    tokenizer: (json) => { json.added_tokens = json.added_tokens.filter((t: any) => t.content !== '<S1>'); },
  })), TokenizerError, /scaleTokenBase \+ 1 says <S1> is 310, but tokenizer\.json lacks it/);
  await expectError(() => TarTokenizer.load(tinySource({ tokens: { pad: 567, eos: [306, 303] } })),
    TokenizerError, /pad = 567 is not a token/);
  await expectError(() => TarTokenizer.load(tinySource({
    tokenizer: (json) => { json.added_tokens.find((t: any) => t.content === '<S2>').content = '<I256>'; },
  })), TokenizerError, /"<I256>" has id 311, outside the image token range \[312, 568\)/);
  await expectError(() => TarTokenizer.load(tinySource({
    tokenizer: (json) => { json.model.vocab.abc = 400; },
  })), TokenizerError, /model\.vocab puts "abc" at 400, inside the image token range/);
  await expectError(() => TarTokenizer.load(tinySource({
    tokenizer: (json) => { delete json.model; },
  })), TokenizerError, /needs "added_tokens" and "model\.vocab"/);
  // Image tokens missing from tokenizer.json are fine: they are arithmetic.
  const sparse = await TarTokenizer.load(tinySource({
    tokenizer: (json) => { json.added_tokens = json.added_tokens.filter((t: any) => !/^<I\d+>$/.test(t.content)); },
  }));
  expect(sparse.chatPrompt([{ role: 'user', text: 'q', images: [Uint32Array.of(9)] }])).toEqual(
    tokenizer.chatPrompt([{ role: 'user', text: 'q', images: [Uint32Array.of(9)] }]),
  );
});
