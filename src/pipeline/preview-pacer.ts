// PreviewPacer: decides at which finished VQ-code rows the engine decodes a preview. A preview is a whole VQ
// decode, and on the GPU it runs between the de-tokenizer's steps, so on a slow adapter previews every row could
// take longer than the drawing itself. The pacer asks for one every `everyRows` rows, but never while one is being
// decoded, and after each not before the drawing has run long enough that previews stay within `maxShare` of the
// time: a preview that took d ms is followed by at least d·(1 − maxShare)/maxShare ms without one. The first due
// row always gets its preview. Pure logic over times the caller passes (ms); it decodes nothing.
import { InvalidArgumentError } from '../errors.ts';

/** The largest share of an image's drawing time that its previews may take. */
export const PREVIEW_TIME_SHARE = 0.25;

export class PreviewPacer {
  private inFlight = false;
  private nextAllowedAt = -Infinity;

  constructor(
    private readonly everyRows: number,
    private readonly maxShare = PREVIEW_TIME_SHARE,
  ) {
    if (!Number.isInteger(everyRows) || everyRows < 0) throw new InvalidArgumentError(`everyRows ${everyRows} must be an integer ≥ 0`);
    if (!(maxShare > 0 && maxShare <= 1)) throw new InvalidArgumentError(`maxShare ${maxShare} must be in (0, 1]`);
  }

  /** Whether to decode a preview now that `rowsDone` rows are complete, at time `now`; true marks one in flight. */
  take(rowsDone: number, now: number): boolean {
    if (this.everyRows === 0 || rowsDone % this.everyRows !== 0 || this.inFlight || now < this.nextAllowedAt) return false;
    this.inFlight = true;
    return true;
  }

  /** The preview `take` granted was decoded (or failed) from `start` to `end`. */
  finished(start: number, end: number): void {
    this.inFlight = false;
    this.nextAllowedAt = end + ((end - start) * (1 - this.maxShare)) / this.maxShare;
  }
}
