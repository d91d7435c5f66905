// RGBA pixels → a PNG Blob (for "save as PNG" links), through a 2D canvas: the browser's own PNG encoder.
// Works in pages and workers (OffscreenCanvas).
import type { RgbaImage } from '../pipeline/events.ts';

/** The pixels as an ImageData (a copy, so the caller's buffer stays its own). */
export function toImageData(image: RgbaImage): ImageData {
  return new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
}

export async function rgbaToPng(image: RgbaImage): Promise<Blob> {
  const canvas = new OffscreenCanvas(image.width, image.height);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('this browser cannot draw into a 2D canvas');
  context.putImageData(toImageData(image), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}
