// Probe: TarTokenizer in the page, as the engine worker will run it (the library bundled by Vite, the tiny
// package fetched through openUrlSource): golden prompt ids, a chat prompt with an image, a typed error.
import { parseGoldens } from '../../../src/model/goldens.ts';
import { openUrlSource } from '../../../src/model/source.ts';
import { TarTokenizer } from '../../../src/tokenizer/tar-tokenizer.ts';
import { describeErrorForTest, type ThrownError } from '../describe-error.ts';

export interface TokenizerReport {
  goldenIds: number[];
  goldenText: string;
  t2iIds: number[];
  t2iDecoded: string;
  chatDecoded: string;
  imageIds: number[];
  emptyPrompt: ThrownError | null;
  loadMs: number;
}

export async function tokenizerProbe(): Promise<TokenizerReport> {
  const response = await fetch('/tests/fixtures/goldens/llm.safetensors');
  if (!response.ok) throw new Error(`the llm goldens: HTTP ${response.status}`);
  const goldens = parseGoldens(await response.arrayBuffer(), 'llm goldens', 'llm');
  const goldenText = new TextDecoder().decode(goldens.tensors.get('prompt.text')?.data as Uint8Array);
  const goldenIds = Array.from(goldens.tensors.get('prompt.input_ids')?.data as BigInt64Array, Number);
  const started = performance.now();
  const tokenizer = await TarTokenizer.load(await openUrlSource('/models/tiny/'));
  const loadMs = performance.now() - started;
  const prompt = /<\|im_start\|>user\n(.*)<\|im_end\|>\n<\|im_start\|>assistant/s.exec(goldenText)?.[1] ?? '';
  const t2iIds = tokenizer.textToImagePrompt(prompt, 0);
  const chatIds = tokenizer.chatPrompt([{ role: 'user', text: 'What is it?', images: [Uint32Array.of(1, 200)] }]);
  return {
    goldenIds,
    goldenText,
    t2iIds,
    t2iDecoded: tokenizer.decode(t2iIds),
    chatDecoded: tokenizer.decode(chatIds),
    imageIds: chatIds.filter((id) => tokenizer.codebookIndex(id) !== null),
    emptyPrompt: await describeErrorForTest(() => tokenizer.textToImagePrompt('  ', 1)),
    loadMs,
  };
}
