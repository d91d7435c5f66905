// The custom events of the Tar elements and their typed `detail`s. Every event bubbles and crosses the
// shadow boundary (composed), so a page can listen on the element or on any ancestor.
import type { Phase, RgbaImage } from '../../pipeline/events.ts';

/** `progress`: the model downloading (bytes), loading (components), or a job running (per phase). */
export type TarProgressDetail =
  | { stage: 'download'; loaded: number; total: number }
  | { stage: 'load'; component: string; loaded: number; total: number }
  | { stage: 'job'; phase: Phase; image: number; done: number; total: number; elapsedMs: number };

/** `image`: one finished picture of <tar-text-to-image>. */
export interface TarImageDetail {
  /** Which image of the request (0 … count − 1). */
  index: number;
  prompt: string;
  /** The seed that reproduces this image (the request's seed + index). */
  seed: number;
  pixels: RgbaImage;
  /** The TA-Tok codebook indices the model drew. */
  tokens: Uint32Array;
  /** With candidates > 1: the kept candidate and every candidate's self-check score. */
  selfCheck?: { candidate: number; scores: number[] };
  /** With drawings > 1: the kept drawing and every drawing's agreement with the tokens (TA-Tok's read-back). */
  roundTrip?: { drawing: number; agreements: number[] };
}

/** `token`: one streamed piece of a <tar-image-chat> answer (`text` may be empty mid-character). */
export interface TarTokenDetail {
  id: number;
  text: string;
}

/** `done`: a request finished; `text` is the whole answer, for chat. */
export interface TarDoneDetail {
  elapsedMs: number;
  text?: string;
}

/** `error`: a request failed (not fired for cancel). `title` and `action` are plain words for people. */
export interface TarErrorDetail {
  error: unknown;
  title: string;
  action: string;
  detail: string;
}

/** Each event's detail, by event name. */
export interface TarEventDetails {
  progress: TarProgressDetail;
  image: TarImageDetail;
  token: TarTokenDetail;
  done: TarDoneDetail;
  error: TarErrorDetail;
}

/** The elements' events for addEventListener (the DOM's own, with `progress` and `error` replaced). */
export interface TarElementEventMap extends Omit<HTMLElementEventMap, 'progress' | 'error'> {
  progress: CustomEvent<TarProgressDetail>;
  done: CustomEvent<TarDoneDetail>;
  error: CustomEvent<TarErrorDetail>;
}

export interface TarTextToImageEventMap extends TarElementEventMap {
  image: CustomEvent<TarImageDetail>;
}

export interface TarImageChatEventMap extends TarElementEventMap {
  token: CustomEvent<TarTokenDetail>;
}
