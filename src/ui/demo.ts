// The demo page's entry. For now it reports what the engine's GPU layer found on this machine; the
// text-to-image UI joins when the engine can run a model package.
import { GpuContext } from '../gpu/context.ts';

const status = document.querySelector<HTMLParagraphElement>('#status');

async function showAdapter(): Promise<void> {
  if (!status) return;
  try {
    const ctx = await GpuContext.create();
    const { adapter, features, limits } = ctx.info;
    const featureList = Object.entries(features)
      .filter(([, present]) => present)
      .map(([name]) => name)
      .join(', ');
    status.textContent =
      `WebGPU ready on ${adapter.vendor} ${adapter.architecture}` +
      `${adapter.isFallbackAdapter ? ' (software fallback)' : ''}; features: ${featureList || 'none'}; ` +
      `largest storage binding ${Math.round(limits.maxStorageBufferBindingSize / 2 ** 20)} MiB.`;
  } catch (error) {
    status.textContent = error instanceof Error ? error.message : String(error);
  }
}

void showAdapter();
