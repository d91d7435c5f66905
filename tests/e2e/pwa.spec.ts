// The offline PWA against real production builds: the spec builds the app twice (TAR_BUILD_ID "pwa-a" and
// "pwa-b", each with the probe page tests/e2e/pwa-probe.html added) and serves them with `vite preview` on one
// port of its own. A first visit installs the service worker and caches the default model in IndexedDB; then the
// server is stopped and the browser set offline, and a reload still loads the page and generates an image;
// finally build B is served, its service worker is announced by a banner on the text-to-image page, and the
// banner's button (reached and pressed with the keyboard) activates it and reloads the page.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { build, preview, type Plugin, type PreviewServer } from 'vite';
import { DEFAULT_MODEL_ID } from './shapes-world.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROBE_PAGE = 'tests/e2e/pwa-probe.html';

test.describe.configure({ mode: 'serial' });

/** Adds the probe page to whatever pages the app's vite.config.ts builds. */
function withProbePage(): Plugin {
  return {
    name: 'pwa-spec-probe-page',
    config(config) {
      config.build ??= {};
      const key = config.build.rollupOptions && !config.build.rolldownOptions ? 'rollupOptions' : 'rolldownOptions';
      const options = config.build[key] ?? {};
      const input = options.input;
      const pages = typeof input === 'string' ? [input] : Array.isArray(input) ? input : input ? Object.values(input) : ['index.html'];
      config.build[key] = { ...options, input: [...pages, PROBE_PAGE] };
    },
  };
}

/** Builds into `dir`/`label` (outside test-results/, which other Playwright runs empty when they start). */
async function buildApp(dir: string, label: string): Promise<string> {
  const outDir = join(dir, label);
  const previous = process.env.TAR_BUILD_ID;
  process.env.TAR_BUILD_ID = label;
  try {
    await build({ root: ROOT, logLevel: 'warn', plugins: [withProbePage()], build: { outDir, emptyOutDir: true } });
  } finally {
    if (previous === undefined) delete process.env.TAR_BUILD_ID;
    else process.env.TAR_BUILD_ID = previous;
  }
  return outDir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, 'localhost', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function serve(outDir: string, port: number): Promise<PreviewServer> {
  return preview({ root: ROOT, logLevel: 'warn', build: { outDir }, preview: { port, strictPort: true, host: 'localhost' } });
}

/** Console errors (the page's and its workers') and uncaught exceptions. onnxruntime-web prints its own
 *  warning-level log ("[W:onnxruntime:…] Some nodes were not assigned…") through console.error; not errors. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/^\S+ \S+ \[W:onnxruntime:/.test(message.text())) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

const cacheNames = (page: Page) => page.evaluate(() => caches.keys());

test('installs, works offline with the cached model, and updates through the banner', async ({ page, context }) => {
  test.setTimeout(420_000);
  const builds = await mkdtemp(join(tmpdir(), 'tar-pwa-spec-'));
  const [dirA, dirB] = [await buildApp(builds, 'pwa-a'), await buildApp(builds, 'pwa-b')];
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const errors = collectErrors(page);
  let server = await serve(dirA, port);
  try {
    // First visit: the service worker precaches the build; the engine downloads the default model into IndexedDB.
    await page.goto(`${origin}/${PROBE_PAGE}`);
    await page.evaluate(() => navigator.serviceWorker.ready);
    expect(await cacheNames(page)).toEqual([expect.stringMatching(/^tar-app-pwa-a-[0-9a-f]{16}$/)]);
    const cached = await page.evaluate(async () => {
      const cache = await caches.open((await caches.keys())[0]!);
      return (await cache.keys()).map((request) => new URL(request.url).pathname);
    });
    expect(cached).toContain('/index.html');
    expect(cached).toContain('/manifest.webmanifest');
    expect(cached.some((path) => /^\/assets\/ort-wasm-.*\.wasm$/.test(path))).toBe(true);
    expect(cached.some((path) => /^\/assets\/engine-worker-.*\.js$/.test(path))).toBe(true);
    expect(cached.filter((path) => path.startsWith('/models/'))).toEqual([]);
    expect(await page.evaluate(() => window.pwaProbe.load())).toBe(DEFAULT_MODEL_ID);

    // Offline: no server at all, and the browser's network off.
    await server.close();
    await context.setOffline(true);
    await page.reload();
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.evaluate(() => window.pwaProbe.imagine())).toEqual({ width: 64, height: 64, modelId: DEFAULT_MODEL_ID });
    // The text-to-image page comes from the cache too, and loads the model from IndexedDB.
    await page.goto(`${origin}/`);
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 90_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.screenshot({ path: 'docs/screenshots/pwa-offline.png' });

    // Build B: the text-to-image page is still served by A's worker; B installs in the background and is
    // announced. The banner comes last in the page, so Shift+Tab from nowhere reaches "Later", then "Reload".
    await context.setOffline(false);
    server = await serve(dirB, port);
    await page.setViewportSize({ width: 360, height: 640 });
    await page.goto(`${origin}/`);
    const banner = page.getByRole('status').filter({ hasText: 'A new version of this app is ready.' });
    await expect(banner).toBeVisible({ timeout: 60_000 });
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 90_000 });
    await page.screenshot({ path: 'docs/screenshots/pwa-update-banner.png' });
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('Shift+Tab');
    await expect(banner.getByRole('button', { name: 'Later' })).toBeFocused();
    await page.keyboard.press('Shift+Tab');
    await expect(banner.getByRole('button', { name: 'Reload' })).toBeFocused();
    await Promise.all([page.waitForEvent('load'), page.keyboard.press('Enter')]);
    await page.evaluate(() => navigator.serviceWorker.ready);
    expect(await cacheNames(page)).toEqual([expect.stringMatching(/^tar-app-pwa-b-[0-9a-f]{16}$/)]);
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.state)).toBe('activated');
    await expect(page.getByRole('status').filter({ hasText: 'new version' })).toHaveCount(0);
    expect(errors).toEqual([]);
  } finally {
    await context.setOffline(false);
    await server.close().catch(() => undefined);
    await rm(builds, { recursive: true, force: true });
  }
});
