// The image-detail choices a model package offers: one <option> per TA-Tok pool scale, labelled with its
// image-token count (from the manifest's poolScales and gridSize), fewest tokens first.
import { pooledGrid, type Manifest } from '../model/manifest.ts';

/** Options for a <select> of pool scales; the coarsest scale is marked fastest, the package's default scale
 *  (tatok defaultPoolScale) is selected. */
export function scaleOptions(manifest: Manifest): HTMLOptionElement[] {
  const tatok = manifest.components.tatok?.config;
  if (!tatok) return [];
  const scales = [...tatok.poolScales].sort((a, b) => b - a);
  return scales.map((scale, i) => {
    const element = document.createElement('option');
    element.value = String(scale);
    element.textContent = `${pooledGrid(tatok, scale) ** 2} tokens${i === 0 ? ' (fastest)' : ''}`;
    element.selected = scale === tatok.defaultPoolScale;
    return element;
  });
}
