// The LLM's tokenizer.json (Hugging Face "fast" format) checked against the manifest's token ids
// (components.llm.tokens) and prepared for @huggingface/tokenizers: the image tokens <I0>…<I{count-1}> are taken
// out of the added vocabulary, because TarTokenizer maps them by arithmetic (imageTokenBase + k) and a
// 65,536-entry added vocabulary would make every encode and decode scan it. Everything else is kept as it is.
// This module does not tokenize (tar-tokenizer.ts does).
import { TarError } from '../errors.ts';
import type { LlmTokens } from '../model/manifest.ts';

/** tokenizer.json is unreadable, or its vocabulary disagrees with the manifest's token ids. */
export class TokenizerError extends TarError {
  constructor(message: string) {
    super('invalid-input', message);
    this.name = 'TokenizerError';
  }
}

export interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
  [flag: string]: unknown;
}

export interface TokenizerJson {
  added_tokens: AddedTokenJson[];
  model: { vocab: Record<string, number>; [key: string]: unknown };
  [key: string]: unknown;
}

/** The strings the chat templates (TAR_SPEC §2.3) rely on, by the manifest field holding their id. */
function namedTokens(tokens: LlmTokens): [field: string, content: string, id: number][] {
  const named: [string, string, number][] = [
    ['imStart', '<|im_start|>', tokens.imStart],
    ['imEnd', '<|im_end|>', tokens.imEnd],
    ['imageStartTag', '<im_start>', tokens.imageStartTag],
    ['imageEndTag', '<im_end>', tokens.imageEndTag],
  ];
  for (let s = 0; s < tokens.scaleTokenCount; s++) {
    named.push([`scaleTokenBase + ${s}`, `<S${s}>`, tokens.scaleTokenBase + s]);
  }
  return named;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(bytes: Uint8Array, where: string): TokenizerJson {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new TokenizerError(`${where} is not JSON (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  if (!isRecord(json) || !Array.isArray(json.added_tokens) || !isRecord(json.model) || !isRecord(json.model.vocab)) {
    throw new TokenizerError(`${where} is not a byte-level BPE tokenizer.json (needs "added_tokens" and "model.vocab")`);
  }
  for (const token of json.added_tokens) {
    if (!isRecord(token) || !Number.isInteger(token.id) || typeof token.content !== 'string') {
      throw new TokenizerError(`${where}: an added token without an integer "id" and a string "content": ${JSON.stringify(token)}`);
    }
  }
  return json as TokenizerJson;
}

/**
 * Parses tokenizer.json, checks it against `tokens`, and returns it without the image tokens. Checks: the
 * template tokens (<|im_start|>, <|im_end|>, <im_start>, <im_end>, <S0>…) have the manifest's ids; eos and pad
 * ids exist; every token in the image id range is `<I{id - imageTokenBase}>` (a full table is not needed:
 * absent ones are fine) and no `<I{n}>` lies outside it.
 */
export function prepareTokenizerJson(bytes: Uint8Array, tokens: LlmTokens, where: string): TokenizerJson {
  const json = parseJson(bytes, where);
  const imageEnd = tokens.imageTokenBase + tokens.imageTokenCount;
  const inImageRange = (id: number) => id >= tokens.imageTokenBase && id < imageEnd;
  const wanted = new Set([...tokens.eos, tokens.pad]);
  const known = new Set<number>();
  const vocab = json.model.vocab;
  for (const content in vocab) {
    const id = vocab[content] as number;
    if (inImageRange(id)) {
      throw new TokenizerError(`${where}: model.vocab puts "${content}" at ${id}, inside the image token range [${tokens.imageTokenBase}, ${imageEnd})`);
    }
    if (wanted.has(id)) known.add(id);
  }
  const addedIds = new Map<string, number>();
  const kept: AddedTokenJson[] = [];
  for (const token of json.added_tokens) {
    if (inImageRange(token.id)) {
      if (token.content !== `<I${token.id - tokens.imageTokenBase}>`) {
        throw new TokenizerError(`${where}: token ${token.id} is "${token.content}", but components.llm.tokens.imageTokenBase ${tokens.imageTokenBase} makes it <I${token.id - tokens.imageTokenBase}>`);
      }
      continue;
    }
    if (/^<I\d+>$/.test(token.content)) {
      throw new TokenizerError(`${where}: "${token.content}" has id ${token.id}, outside the image token range [${tokens.imageTokenBase}, ${imageEnd})`);
    }
    addedIds.set(token.content, token.id);
    known.add(token.id);
    kept.push(token);
  }
  const idOf = (content: string) => addedIds.get(content) ?? (Object.hasOwn(vocab, content) ? vocab[content] : undefined);
  for (const [field, content, id] of namedTokens(tokens)) {
    const actual = idOf(content);
    if (actual !== id) {
      const found = actual === undefined ? 'lacks it' : `has it at ${actual}`;
      throw new TokenizerError(`${where}: components.llm.tokens.${field} says ${content} is ${id}, but tokenizer.json ${found}`);
    }
  }
  tokens.eos.forEach((id, i) => {
    if (!known.has(id)) throw new TokenizerError(`${where}: components.llm.tokens.eos[${i}] = ${id} is not a token of tokenizer.json`);
  });
  if (!known.has(tokens.pad)) throw new TokenizerError(`${where}: components.llm.tokens.pad = ${tokens.pad} is not a token of tokenizer.json`);
  return { ...json, added_tokens: kept };
}
