// Starts the page's shared engine (the embedded default model) and reports its download and load in the
// status line, in bytes and parts; a failure is shown in plain words.
import type { TarEngine } from '../../pipeline/engine.ts';
import { sharedEngine } from '../engine-host.ts';
import { formatBytes } from '../errors-text.ts';
import { scaleOptions } from '../scale-options.ts';
import { chatErrorText } from './chat-errors.ts';

/** Starts the engine; once it is ready, `scale` offers the model's image-detail choices and `views` holds the
 *  model's test-time views. */
export function startEngine(status: HTMLElement, bar: HTMLProgressElement, scale: HTMLSelectElement, views: HTMLInputElement): Promise<TarEngine> {
  const say = (text: string) => (status.textContent = text);
  say('Loading the model…');
  const engine = sharedEngine(undefined, {
    onDownload: (event) => {
      if (event.type === 'manifest' && event.cachedBytes >= event.totalBytes) say('Loading the model from this browser’s storage…');
      if (event.type === 'progress') {
        bar.hidden = false;
        bar.max = event.total;
        bar.value = event.loaded;
        say(`Downloading the model: ${formatBytes(event.loaded)} of ${formatBytes(event.total)}`);
      }
      if (event.type === 'complete') bar.hidden = true;
    },
    onLoad: (component, loaded, total) => say(`Putting the model on the GPU: ${component} (${loaded} of ${total})…`),
  });
  engine.then(
    (e) => {
      bar.hidden = true;
      scale.replaceChildren(...scaleOptions(e.info.manifest));
      views.value = String(e.info.manifest.sampling.chat.views);
      const gpu = e.info.gpu.adapter;
      const noise = /random/.test(e.info.modelId) ? ' This is the tiny test model with random weights: it answers and draws noise.' : '';
      say(`Ready: model ${e.info.modelId} on ${gpu.vendor || 'your GPU'}${gpu.isFallbackAdapter ? ' (software fallback)' : ''}.${noise}`);
    },
    (error: unknown) => {
      bar.hidden = true;
      status.classList.add('error');
      say(chatErrorText(error));
    },
  );
  return engine;
}
