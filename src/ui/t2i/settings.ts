// The generation settings of the text-to-image page: filled from the loaded model's manifest (scales with
// their token counts, image sizes, sampling defaults, the self-check where the package offers it, the round trip's
// drawings) and read back as
// imagine() options.
import type { Manifest } from '../../model/manifest.ts';
import { supportedSizes, type ImagineOptions } from '../../pipeline/options.ts';
import { scaleOptions } from '../scale-options.ts';
import { byId } from './dom.ts';

export type GenerationSettings = Required<Pick<ImagineOptions, 'scale' | 'size' | 'cfg' | 'promptCfg' | 'negativePrompt' | 'topK' | 'topP' | 'temperature' | 'count' | 'candidates' | 'drawings' | 'previewEveryRows'>> &
  Pick<ImagineOptions, 'seed'>;

function option(value: number, text: string): HTMLOptionElement {
  const element = document.createElement('option');
  element.value = String(value);
  element.textContent = text;
  return element;
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] as number;
}

export class SettingsForm {
  readonly fieldset = byId('settings', HTMLFieldSetElement);
  private readonly scale = byId('scale', HTMLSelectElement);
  private readonly size = byId('size', HTMLSelectElement);
  private readonly count = byId('count', HTMLInputElement);
  private readonly candidates = byId('candidates', HTMLInputElement);
  private readonly drawings = byId('drawings', HTMLInputElement);
  private readonly seed = byId('seed', HTMLInputElement);
  private readonly cfg = byId('cfg', HTMLInputElement);
  private readonly promptCfg = byId('prompt-cfg', HTMLInputElement);
  private readonly negativePrompt = byId('negative-prompt', HTMLInputElement);
  private readonly topK = byId('top-k', HTMLInputElement);
  private readonly topP = byId('top-p', HTMLInputElement);
  private readonly temperature = byId('temperature', HTMLInputElement);
  private readonly previews = byId('previews', HTMLSelectElement);
  private manifest: Manifest | null = null;

  constructor() {
    byId('seed-random', HTMLButtonElement).addEventListener('click', () => {
      this.seed.value = String(randomSeed());
    });
    byId('defaults', HTMLButtonElement).addEventListener('click', () => {
      if (this.manifest) this.applyDefaults(this.manifest);
    });
  }

  /** Offers what `manifest` supports and takes its defaults; the fieldset is enabled. */
  useModel(manifest: Manifest): void {
    this.manifest = manifest;
    this.scale.replaceChildren(...scaleOptions(manifest));
    this.size.replaceChildren(...supportedSizes(manifest).map((px) => option(px, `${px} × ${px} px`)));
    this.applyDefaults(manifest);
    this.fieldset.disabled = false;
  }

  private applyDefaults(manifest: Manifest): void {
    const t = manifest.sampling.textToImage;
    const scale = manifest.components.tatok?.config.defaultPoolScale;
    if (scale !== undefined) this.scale.value = String(scale);
    this.size.selectedIndex = 0;
    this.cfg.value = String(manifest.sampling.detokenizer.cfgScale);
    this.promptCfg.value = String(t.cfgScale);
    this.negativePrompt.value = '';
    this.topK.value = String(t.topK);
    this.topP.value = String(t.topP);
    this.temperature.value = String(t.temperature);
    this.count.value = '1';
    // Packages without a self-check question draw one picture per image.
    this.candidates.value = String(t.candidates);
    this.candidates.disabled = t.selfCheckQuestion === undefined;
    this.drawings.value = String(manifest.sampling.detokenizer.drawings ?? 1);
    this.previews.value = '1';
  }

  /** The current settings (the form's own validation has run: values are within their min/max). */
  read(): GenerationSettings {
    const seed = this.seed.value.trim();
    return {
      scale: Number(this.scale.value),
      size: Number(this.size.value),
      cfg: Number(this.cfg.value),
      promptCfg: Number(this.promptCfg.value),
      negativePrompt: this.negativePrompt.value,
      topK: Number(this.topK.value),
      topP: Number(this.topP.value),
      temperature: Number(this.temperature.value),
      count: Number(this.count.value),
      candidates: Number(this.candidates.value),
      drawings: Number(this.drawings.value),
      previewEveryRows: Number(this.previews.value),
      ...(seed ? { seed: Number(seed) } : {}),
    };
  }
}
