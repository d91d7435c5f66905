// Turns a growing list of token ids into text pieces: each new token yields the text it completes, holding
// back while a multi-byte character is still open (the decoder then ends in U+FFFD).

export class TextStream {
  private readonly ids: number[] = [];
  private emitted = '';

  constructor(private readonly decode: (ids: number[]) => string) {}

  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.ids);
    if (text.endsWith('\uFFFD') || !text.startsWith(this.emitted)) return '';
    const piece = text.slice(this.emitted.length);
    this.emitted = text;
    return piece;
  }

  get text(): string {
    return this.decode(this.ids);
  }
}
