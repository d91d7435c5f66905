// Chat's test-time views of a picture: the encoder's input shifted by one pixel in up to eight directions (edge
// rows and columns repeated), each read by TA-Tok on its own; the LLM answers from the mean of the views'
// log-probabilities (src/kernels/log-prob-mean.ts). The shifts are the method's, not the model's: one pixel of the
// encoder's input whatever its size. This file only moves pixels; it neither encodes nor combines.
import { InvalidArgumentError, InvalidInputError } from '../errors.ts';

/** (dy, dx) of each view in the order views are taken: the picture itself, then right, left, down, up, and the
 *  four diagonals. A view's content moves by (dy, dx): out[y, x] = in[y − dy, x − dx]. */
export const VIEW_SHIFTS: ReadonlyArray<readonly [number, number]> = [
  [0, 0],
  [0, 1],
  [0, -1],
  [1, 0],
  [-1, 0],
  [1, 1],
  [1, -1],
  [-1, 1],
  [-1, -1],
];

/** The most views one answer may read. */
export const MAX_VIEWS = VIEW_SHIFTS.length;

export function checkViews(views: number): void {
  if (!Number.isInteger(views) || views < 1 || views > MAX_VIEWS) {
    throw new InvalidArgumentError(`views = ${JSON.stringify(views)}: must be an integer in [1, ${MAX_VIEWS}]`);
  }
}

/** pixel_values [channels, side, side] (one image, channel-major) with its content moved by (dy, dx); the rows
 *  and columns uncovered repeat the nearest edge. */
export function shiftedPixels(pixelValues: Float32Array, side: number, [dy, dx]: readonly [number, number]): Float32Array {
  if (!Number.isInteger(side) || side < 1 || pixelValues.length % (side * side) !== 0) {
    throw new InvalidInputError(`views: ${pixelValues.length} pixel values are not whole ${side}×${side} channels`);
  }
  const clamp = (i: number) => Math.min(Math.max(i, 0), side - 1);
  const out = new Float32Array(pixelValues.length);
  const plane = side * side;
  for (let c = 0; c < pixelValues.length / plane; c++) {
    for (let y = 0; y < side; y++) {
      const from = c * plane + clamp(y - dy) * side;
      const to = c * plane + y * side;
      for (let x = 0; x < side; x++) out[to + x] = pixelValues[from + clamp(x - dx)] as number;
    }
  }
  return out;
}
