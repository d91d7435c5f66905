// The benchmark page: builds one BenchEnv (our GpuContext, ORT bound to the same device, the FMA ceiling)
// and runs cases by name for bench/run-kernels.mjs.
import { GpuContext } from '../src/gpu/context.ts';
import { createSharedSession, ort } from '../src/ort/session.ts';
import { benchCases } from './cases/index.ts';
import { measureCeiling } from './cases/fma-ceiling.ts';
import type { BenchEnv, BenchRow } from './types.ts';

let envPromise: Promise<BenchEnv> | null = null;

async function makeEnv(): Promise<BenchEnv> {
  const ctx = await GpuContext.create();
  const { gflops } = await measureCeiling({ ctx });
  return {
    ctx,
    ort,
    createSession: (model) => createSharedSession(ctx.device, model),
    ceilingGflops: gflops,
    log: (message) => console.log(`[bench] ${message}`),
  };
}

export const bench = {
  names: (): string[] => benchCases.map((c) => c.name),
  adapter: async () => {
    envPromise ??= makeEnv();
    return (await envPromise).ctx.info;
  },
  run: async (name: string): Promise<BenchRow[]> => {
    const found = benchCases.find((c) => c.name === name);
    if (!found) throw new Error(`no benchmark case "${name}"`);
    envPromise ??= makeEnv();
    return found.run(await envPromise);
  },
};

declare global {
  interface Window {
    bench: typeof bench;
  }
}

window.bench = bench;
document.body.dataset.ready = 'true';
