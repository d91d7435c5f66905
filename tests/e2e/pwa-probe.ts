// Test page for tests/e2e/pwa.spec.ts, built only into that spec's own builds: the app's service-worker
// registration (installPwa) and the shared engine worker, driven from the test through `window.pwaProbe`.
import { sharedEngine } from '../../src/ui/engine-host.ts';
import { installPwa } from '../../src/ui/pwa.ts';

interface ImageSummary {
  width: number;
  height: number;
  modelId: string;
}

async function load(): Promise<string> {
  return (await sharedEngine()).info.modelId;
}

/** One small text-to-image job (scale 3: the fewest tokens); the size of the image it made. */
async function imagine(): Promise<ImageSummary> {
  const engine = await sharedEngine();
  for await (const event of engine.imagine({ prompt: 'a lighthouse at dusk', scale: 3, seed: 7, previewEveryRows: 0 })) {
    if (event.type === 'image') return { width: event.pixels.width, height: event.pixels.height, modelId: engine.info.modelId };
  }
  throw new Error('the job ended without an image');
}

declare global {
  interface Window {
    pwaProbe: { load: typeof load; imagine: typeof imagine };
  }
}

installPwa();
window.pwaProbe = { load, imagine };
