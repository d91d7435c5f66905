// The Tar chat templates of TAR_SPEC §2.3 (plain ChatML, always with the system turn), as prompt parts: text
// with its special tokens written out, and TA-Tok codebook indices wherever an image's <I..> tokens go. The
// text parts are cut only where an image stands, which is also where the official tokenizer splits the full
// string (the <I..> are added tokens), so encoding part by part gives the official ids. Does no tokenizing and
// no argument checking (tar-tokenizer.ts does both).

export interface ChatTurn {
  role: 'user' | 'assistant';
  text: string;
  /** Codebook indices (k of <I{k}>), one array per image; user turns only. */
  images?: Uint32Array[];
}

/** Text (special tokens such as <|im_end|> written out) or one image's codebook indices. */
export type PromptPart = string | Uint32Array;

class Parts {
  readonly list: PromptPart[] = [];

  text(text: string): void {
    const last = this.list.length - 1;
    if (typeof this.list[last] === 'string') this.list[last] += text;
    else this.list.push(text);
  }

  image(indices: Uint32Array): void {
    this.list.push(indices);
  }
}

function systemTurn(systemPrompt: string): string {
  return `<|im_start|>system\n${systemPrompt}<|im_end|>\n`;
}

/** `<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n<im_start><S{scale}>` */
export function textToImageParts(systemPrompt: string, prompt: string, scale: number): PromptPart[] {
  return [`${systemTurn(systemPrompt)}<|im_start|>user\n${prompt}<|im_end|>\n<|im_start|>assistant\n<im_start><S${scale}>`];
}

/** System turn, then each turn as `<|im_start|>{role}\n{content}<|im_end|>\n` where a user turn's content is
 *  `<I..>`×N + "\n" per image, then its text; ends with the generation prompt `<|im_start|>assistant\n`. */
export function chatParts(systemPrompt: string, turns: readonly ChatTurn[]): PromptPart[] {
  const parts = new Parts();
  parts.text(systemTurn(systemPrompt));
  for (const turn of turns) {
    parts.text(`<|im_start|>${turn.role}\n`);
    for (const image of turn.images ?? []) {
      parts.image(image);
      parts.text('\n');
    }
    parts.text(`${turn.text}<|im_end|>\n`);
  }
  parts.text('<|im_start|>assistant\n');
  return parts.list;
}
