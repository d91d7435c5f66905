// Where the Node parity tests find the tiny package and the goldens (both written by `npm run make-tiny`),
// and loaders that fail with a message naming what is missing instead of skipping.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGoldens, type Goldens } from '../../src/model/goldens.ts';
import { parseManifest, type ComponentName, type Manifest } from '../../src/model/manifest.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PACKAGE_DIR = join(ROOT, 'public', 'models', 'tiny');
export const GOLDENS_DIR = join(ROOT, 'tests', 'fixtures', 'goldens');
export const COMPONENTS: readonly ComponentName[] = ['tatok', 'llm', 'ardtok', 'vq'];

const REGENERATE = 'write it with `npm run make-tiny` (the lead commits the tiny package and goldens)';

export function rawManifest(): unknown {
  const path = join(PACKAGE_DIR, 'manifest.json');
  if (!existsSync(path)) throw new Error(`the tiny package has no manifest: ${path} is missing; ${REGENERATE}`);
  return JSON.parse(readFileSync(path, 'utf8'));
}

export function tinyManifest(): Manifest {
  return parseManifest(rawManifest());
}

/** The manifest, failing when `component` is not in it. */
export function manifestWith(component: ComponentName): Manifest {
  const manifest = tinyManifest();
  if (!manifest.components[component]) {
    throw new Error(
      `component ${component} is missing from the tiny package (${PACKAGE_DIR}/manifest.json has ` +
        `${Object.keys(manifest.components).join(', ') || 'none'}); ${REGENERATE}`,
    );
  }
  return manifest;
}

export function goldensOf(component: ComponentName): Goldens {
  const path = join(GOLDENS_DIR, `${component}.safetensors`);
  if (!existsSync(path)) throw new Error(`the goldens of component ${component} are missing: ${path}; ${REGENERATE}`);
  return parseGoldens(readFileSync(path), path, component);
}
