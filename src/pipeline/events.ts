// What a job streams back: a discriminated union per job kind. Plain data only (structured-cloneable), so
// the same events cross the worker boundary unchanged.

/** An RGBA image, row-major, 4 bytes a pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export type Phase = 'load' | 'encode' | 'llm' | 'tatok-decode' | 'detokenize' | 'vq-decode' | 'round-trip' | 'self-check';

/** Milliseconds spent in each phase of a job (summed over its images). */
export type PhaseTimings = Partial<Record<Phase, number>>;

export interface ProgressEvent {
  type: 'progress';
  phase: Phase;
  /** Which image of the job (0 for chat and single images). */
  image: number;
  done: number;
  total: number;
  elapsedMs: number;
}

export interface PreviewEvent {
  type: 'preview';
  image: number;
  /** VQ codes known so far, of `total`. */
  done: number;
  total: number;
  pixels: RgbaImage;
}

export interface ImageEvent {
  type: 'image';
  image: number;
  seed: number;
  pixels: RgbaImage;
  /** The TA-Tok codebook indices the LLM drew (or the encoder produced, for vary). */
  tokens: Uint32Array;
  /** With imagine's candidates > 1: which candidate this is and every candidate's self-check score (log p of the
   *  prompt as the answer to the package's selfCheckQuestion about the candidate's picture; the highest kept). */
  selfCheck?: { candidate: number; scores: number[] };
  /** With imagine's drawings > 1: which drawing this is and every drawing's agreement (how many of `tokens` the
   *  TA-Tok encoder reads back from the drawing's picture at the same position; the most kept, first of equals). */
  roundTrip?: { drawing: number; agreements: number[] };
}

export interface TokenEvent {
  type: 'token';
  id: number;
  /** Text this token completes (may be empty while a multi-byte character is still open). */
  text: string;
}

export interface DoneEvent {
  type: 'done';
  timings: PhaseTimings;
  elapsedMs: number;
  /** The whole answer, for chat. */
  text?: string;
}

export type ImagineEvent = ProgressEvent | PreviewEvent | ImageEvent | DoneEvent;
export type ChatEvent = ProgressEvent | TokenEvent | DoneEvent;
export type VaryEvent = ProgressEvent | PreviewEvent | ImageEvent | DoneEvent;
export type JobEvent = ImagineEvent | ChatEvent | VaryEvent;
