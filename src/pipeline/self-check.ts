// Imagine's self-check: a drawn candidate is read back with the model's own understanding (the TA-Tok encoder at
// the understanding scale, then the LLM) and scored by how likely the model finds the prompt as its answer to the
// package's selfCheckQuestion about the picture; the engine keeps each image's best-scored candidate (engine.ts).
// It neither draws candidates nor chooses between them.
import type { LlmDecoder } from '../decoders/llm.ts';
import { pooledGrid } from '../model/manifest.ts';
import { UNDERSTANDING_SCALE, type TatokEncoder } from '../models/tatok.ts';
import type { TarTokenizer } from '../tokenizer/tar-tokenizer.ts';
import type { RgbaImage } from './events.ts';

export class SelfCheck {
  private readonly answerIds: number[];

  /** InvalidArgumentError when the question, a read-back picture and the prompt as answer exceed the context. */
  constructor(
    private readonly encoder: TatokEncoder,
    private readonly tokenizer: TarTokenizer,
    private readonly llm: LlmDecoder,
    private readonly question: string,
    prompt: string,
  ) {
    this.answerIds = tokenizer.answerIds(prompt);
    const pictureTokens = new Uint32Array(pooledGrid(encoder.config, UNDERSTANDING_SCALE) ** 2);
    llm.checkContext(this.questionIds(pictureTokens).length + this.answerIds.length);
  }

  /** log p(prompt | picture, question), natural log, summed over the prompt's ids and <|im_end|>. */
  async score(pixels: RgbaImage, signal: AbortSignal): Promise<number> {
    const tokens = await this.encoder.encode(pixels, UNDERSTANDING_SCALE, signal);
    return this.llm.answerLogProb(this.questionIds(tokens), this.answerIds, signal);
  }

  private questionIds(pictureTokens: Uint32Array): number[] {
    return this.tokenizer.chatPrompt([{ role: 'user', text: this.question, images: [pictureTokens] }]);
  }
}
