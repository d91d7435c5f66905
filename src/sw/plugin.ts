// Vite plugin (Node side, production builds only): after the app is written, lists every file of the build
// except model packages and source maps, derives a build id from their bytes, and compiles src/sw/sw.ts
// into <outDir>/sw.js (one classic script) with that list as its precache. Set TAR_BUILD_ID to mark a build
// by hand (it prefixes the id, so two builds of the same sources can still differ).
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin, type ResolvedConfig } from 'vite';

const SW_ENTRY = fileURLToPath(new URL('./sw.ts', import.meta.url));
const SW_FILE = 'sw.js';

/** Build output that is not app shell: model packages (weights live in IndexedDB) and debugging aids. */
function isExcluded(path: string): boolean {
  return path === SW_FILE || path.startsWith('models/') || path.endsWith('.map');
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter((path) => !isExcluded(path))
    .sort();
}

async function buildId(root: string, files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(await readFile(join(root, file)));
  const digest = hash.digest('hex').slice(0, 16);
  const label = process.env.TAR_BUILD_ID?.replace(/[^\w.-]/g, '');
  return label ? `${label}-${digest}` : digest;
}

async function compileServiceWorker(id: string, files: string[]): Promise<string> {
  const output = await build({
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    define: { __PWA_BUILD_ID__: JSON.stringify(id), __PWA_PRECACHE__: JSON.stringify(files) },
    build: {
      write: false,
      target: 'es2022',
      lib: { entry: SW_ENTRY, formats: ['iife'], name: 'tarServiceWorker', fileName: () => SW_FILE },
    },
  });
  const chunk = (Array.isArray(output) ? output : [output])
    .flatMap((result) => ('output' in result ? result.output : []))
    .find((item) => item.type === 'chunk');
  if (!chunk || chunk.type !== 'chunk') throw new Error('service worker build produced no script');
  return chunk.code;
}

/** Writes sw.js next to the built app; the dev server gets none (src/ui/pwa.ts registers only in builds). */
export function serviceWorkerPlugin(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'tar-service-worker',
    apply: 'build',
    configResolved(resolved) {
      config = resolved;
    },
    writeBundle: {
      order: 'post',
      sequential: true,
      async handler() {
        if (config.build.lib || config.build.ssr) return;
        const outDir = resolve(config.root, config.build.outDir);
        const files = await listFiles(outDir);
        const id = await buildId(outDir, files);
        await writeFile(join(outDir, SW_FILE), await compileServiceWorker(id, files));
        config.logger.info(`service worker: ${SW_FILE}, build ${id}, ${files.length} files precached`);
      },
    },
  };
}
