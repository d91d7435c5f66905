// TarTokenizer: text ↔ token ids for the Tar LLM, on @huggingface/tokenizers over the package's
// llm/tokenizer.json, with the manifest's token ids (components.llm.tokens) and system prompt. Image tokens
// <I{k}> are ids by arithmetic (imageTokenBase + k), never looked up: they are not in the tokenizer's added
// vocabulary (tokenizer-json.ts takes them out), so text that spells "<I5>" is encoded as plain text, and
// decoding writes them out as "<I{k}>". Builds the prompts of TAR_SPEC §2.3 (chat-template.ts). Does not
// sample or stream (src/decoders/).
import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidArgumentError } from '../errors.ts';
import type { LlmTokens } from '../model/manifest.ts';
import type { ModelSource } from '../model/source.ts';
import { chatParts, textToImageParts, type ChatTurn, type PromptPart } from './chat-template.ts';
import { prepareTokenizerJson, TokenizerError } from './tokenizer-json.ts';

export type { ChatTurn } from './chat-template.ts';

export interface PromptOptions {
  /** Most ids the prompt may have (the caller's context budget); more → InvalidArgumentError. */
  contextLength?: number;
}

export class TarTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly tokens: LlmTokens;
  private readonly systemPrompt: string;

  private constructor(tokenizer: Tokenizer, tokens: LlmTokens, systemPrompt: string) {
    this.tokenizer = tokenizer;
    this.tokens = tokens;
    this.systemPrompt = systemPrompt;
  }

  /** Reads components.llm.files.tokenizer and checks it against components.llm.tokens (TokenizerError). */
  static async load(source: ModelSource): Promise<TarTokenizer> {
    const llm = source.manifest.components.llm;
    if (!llm) throw new TokenizerError(`${source.id}: the package has no llm component, so no tokenizer`);
    const path = llm.files.tokenizer;
    const json = prepareTokenizerJson(await source.file(path), llm.tokens, `${source.id} ${path}`);
    const tokenizer = new Tokenizer(json, {});
    return new TarTokenizer(tokenizer, llm.tokens, llm.systemPrompt);
  }

  /** Plain text → ids; special tokens written in the text (e.g. "<|im_end|>") become their ids. */
  encode(text: string): number[] {
    const { ids, tokens } = this.tokenizer.encode(text, { add_special_tokens: false });
    ids.forEach((id, i) => {
      if (!Number.isInteger(id)) throw new TokenizerError(`tokenizer.json has no id for the piece ${JSON.stringify(tokens[i])}`);
    });
    return ids;
  }

  /** Ids → text; image ids become "<I{k}>". `skipSpecial` drops the tokens tokenizer.json marks special. */
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string {
    // No clean-up of spaces before punctuation: Qwen2's tokenizer_config says clean_up_tokenization_spaces: false.
    const options = { skip_special_tokens: opts?.skipSpecial ?? false, clean_up_tokenization_spaces: false };
    let text = '';
    let run: number[] = [];
    const flush = () => {
      if (run.length > 0) text += this.tokenizer.decode(run, options);
      run = [];
    };
    for (const id of ids) {
      const k = this.codebookIndex(id);
      if (k !== null) {
        flush();
        text += `<I${k}>`;
      } else if (Number.isInteger(id) && this.tokenizer.id_to_token(id) !== undefined) {
        run.push(id);
      } else {
        throw new InvalidArgumentError(`decode: ${id} is not a token id of this tokenizer`);
      }
    }
    flush();
    return text;
  }

  /** Codebook index k → the id of <I{k}>. */
  imageTokenId(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k >= this.tokens.imageTokenCount) {
      throw new InvalidArgumentError(`codebook index ${k} is outside [0, ${this.tokens.imageTokenCount})`);
    }
    return this.tokens.imageTokenBase + k;
  }

  /** The codebook index k of an <I{k}> id; null for any other id. */
  codebookIndex(id: number): number | null {
    const k = id - this.tokens.imageTokenBase;
    return Number.isInteger(k) && k >= 0 && k < this.tokens.imageTokenCount ? k : null;
  }

  /** The text-to-image prompt, ending in <im_start><S{scaleToken}>; the model then generates the image tokens.
   *  `scaleToken` is the s of <S{s}>: the TA-Tok pool scale minus one (TAR_SPEC §1.4). */
  textToImagePrompt(prompt: string, scaleToken: number, options?: PromptOptions): number[] {
    if (prompt.trim() === '') throw new InvalidArgumentError('the prompt is empty');
    return this.imagePrompt(prompt, scaleToken, options);
  }

  /** The unconditional side of prompt guidance: the text-to-image prompt of `negativePrompt`, which may be empty
   *  (the template with an empty user message). */
  negativeImagePrompt(negativePrompt: string, scaleToken: number, options?: PromptOptions): number[] {
    return this.imagePrompt(negativePrompt, scaleToken, options);
  }

  private imagePrompt(prompt: string, scaleToken: number, options?: PromptOptions): number[] {
    if (!Number.isInteger(scaleToken) || scaleToken < 0 || scaleToken >= this.tokens.scaleTokenCount) {
      throw new InvalidArgumentError(`scale ${scaleToken} is not one of 0…${this.tokens.scaleTokenCount - 1}`);
    }
    return this.checkLength(this.encodeParts(textToImageParts(this.systemPrompt, prompt, scaleToken)), options);
  }

  /** An assistant's answer as the chat template holds it: the text's ids, then <|im_end|>. */
  answerIds(text: string): number[] {
    return [...this.encode(text), this.tokens.imEnd];
  }

  /** A conversation ending in a user turn, plus the generation prompt <|im_start|>assistant\n. Earlier
   *  assistant turns close with <|im_end|>\n; images (codebook indices) go first in their user turn. */
  chatPrompt(turns: readonly ChatTurn[], options?: PromptOptions): number[] {
    if (turns.length === 0) throw new InvalidArgumentError('the conversation has no turns');
    turns.forEach((turn, i) => this.checkTurn(turn, i));
    if (turns[turns.length - 1]?.role !== 'user') throw new InvalidArgumentError('the conversation must end with a user turn');
    return this.checkLength(this.encodeParts(chatParts(this.systemPrompt, turns)), options);
  }

  private checkTurn(turn: ChatTurn, i: number): void {
    if (turn.role !== 'user' && turn.role !== 'assistant') {
      throw new InvalidArgumentError(`turn ${i}: role ${JSON.stringify(turn.role)} is neither "user" nor "assistant"`);
    }
    const images = turn.images ?? [];
    if (turn.role === 'assistant' && images.length > 0) throw new InvalidArgumentError(`turn ${i}: only user turns may hold images`);
    if (turn.role === 'user' && turn.text.trim() === '' && images.length === 0) {
      throw new InvalidArgumentError(`turn ${i}: the user turn is empty`);
    }
    images.forEach((indices, j) => {
      if (indices.length === 0) throw new InvalidArgumentError(`turn ${i}, image ${j}: no codebook indices`);
      const bad = indices.find((k) => k >= this.tokens.imageTokenCount);
      if (bad !== undefined) {
        throw new InvalidArgumentError(`turn ${i}, image ${j}: codebook index ${bad} is outside [0, ${this.tokens.imageTokenCount})`);
      }
    });
  }

  private encodeParts(parts: readonly PromptPart[]): number[] {
    const ids: number[] = [];
    for (const part of parts) {
      if (typeof part === 'string') ids.push(...this.encode(part));
      else for (const k of part) ids.push(this.tokens.imageTokenBase + k);
    }
    return ids;
  }

  private checkLength(ids: number[], options: PromptOptions | undefined): number[] {
    const limit = options?.contextLength;
    if (limit === undefined) return ids;
    if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`contextLength ${limit} is not a positive integer`);
    if (ids.length > limit) {
      throw new InvalidArgumentError(`the prompt is ${ids.length} tokens, more than the ${limit} the context allows`);
    }
    return ids;
  }
}
