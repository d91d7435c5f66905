// The web components in real Chromium on the embedded default model (Tar-Shapes). (1) On the dev server, <tar-text-to-image> and
// <tar-image-chat> on one page share ONE engine worker; cancel stops a job (no image, no error event);
// the keyboard alone draws a 64 px image (progress, image and done events); the chat streams an answer about
// that image (token events). (2) examples/embed.html, served statically with COOP/COEP from the repository
// root, loads ONLY the built dist/lib/ (npm run build:lib) and draws an image. (3) A missing model attribute
// and a URL without a package give plain-words errors. Screenshots go to docs/screenshots/components*.png;
// any console error fails a test.
import { execFileSync } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';

test.describe.configure({ timeout: 420_000 }); // a Tar-Shapes picture takes ~40 s on SwiftShader, more on a loaded machine

const ROOT = resolve(import.meta.dirname, '../..');
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** Console errors and uncaught exceptions of `page`. onnxruntime-web prints its own warning-level log lines
 *  ("[W:onnxruntime:…] Some nodes were not assigned…") through console.error; those are not errors. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/^\S+ \S+ \[W:onnxruntime:/.test(message.text())) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

/** Records every event the elements fire (name, element tag, a small summary of the detail) in window.tarEvents. */
async function recordEvents(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const log: { type: string; tag: string; detail: Record<string, unknown> }[] = [];
    (window as unknown as { tarEvents: typeof log }).tarEvents = log;
    for (const type of ['progress', 'image', 'token', 'done', 'error']) {
      document.addEventListener(type, (event) => {
        const target = event.target as Element;
        if (!target.localName?.startsWith('tar-')) return;
        const d = (event as CustomEvent).detail ?? {};
        const summary: Record<string, unknown> = { ...d };
        if (d.pixels) summary.pixels = { width: d.pixels.width, height: d.pixels.height, bytes: d.pixels.data.length };
        if (d.tokens) summary.tokens = d.tokens.length;
        if (d.error) summary.error = String(d.error?.name);
        log.push({ type, tag: target.localName, detail: summary });
      });
    }
  });
}

type Logged = { type: string; tag: string; detail: Record<string, unknown> };
const events = (page: Page): Promise<Logged[]> => page.evaluate(() => (window as unknown as { tarEvents: Logged[] }).tarEvents);

/** Presses Tab until the element matched by `selector` (inside a shadow root too) has focus. */
async function tabTo(page: Page, host: string, inner: string): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const focused = await page.evaluate(
      ([h, s]) => {
        const el = document.querySelector(h!);
        return document.activeElement === el && el?.shadowRoot?.activeElement === el?.shadowRoot?.querySelector(s!);
      },
      [host, inner],
    );
    if (focused) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${host} ${inner}`);
}

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tar components</title><link rel="icon" href="data:,">
<script type="module" src="/src/lib.ts"></script>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:0 auto;padding:1rem}</style></head>
<body><main><h1>Two Tar elements, one engine</h1>
<tar-text-to-image model="/models/tar-shapes/" scale="3" seed="7" candidates="2" drawings="2" preview-rows="0"></tar-text-to-image>
<tar-image-chat model="/models/tar-shapes/" max-tokens="12" seed="3" views="3"></tar-image-chat>
</main></body></html>`;

test('two elements share one engine worker; cancel; keyboard-only image; chat streams tokens', async ({ page }) => {
  const errors = collectErrors(page);
  const engineWorkers: string[] = [];
  page.on('worker', (worker) => {
    if (/engine-worker/.test(worker.url())) engineWorkers.push(worker.url());
  });
  await recordEvents(page);
  await page.route('**/__components.html', (route) => route.fulfill({ contentType: 'text/html', headers: ISOLATION, body: PAGE }));
  await page.setViewportSize({ width: 1000, height: 900 });
  await page.goto('/__components.html');
  await page.waitForFunction(() => customElements.get('tar-text-to-image') && customElements.get('tar-image-chat'));

  const t2i = page.locator('tar-text-to-image');
  const chat = page.locator('tar-image-chat');

  // Cancel: start a request, cancel once the job itself (not the model load) reports progress.
  await page.evaluate(() => {
    const el = document.querySelector('tar-text-to-image')!;
    el.prompt = 'a blue boat';
    (window as unknown as { first: Promise<unknown> }).first = el.generate();
  });
  await page.waitForFunction(
    () => (window as unknown as { tarEvents: Logged[] }).tarEvents.some((e) => e.type === 'progress' && e.detail.stage === 'job'),
    undefined,
    { timeout: 120_000 },
  );
  await t2i.getByRole('button', { name: 'Cancel' }).click();
  expect(await page.evaluate(() => (window as unknown as { first: Promise<unknown[]> }).first)).toEqual([]);
  await expect(t2i.getByRole('status')).toHaveText('Cancelled.');
  let log = await events(page);
  expect(log.filter((e) => e.type === 'image' || e.type === 'error')).toEqual([]);
  expect(log.some((e) => e.type === 'progress' && e.detail.stage === 'download')).toBe(true);

  // Keyboard alone: Tab to the prompt, type, Enter.
  await page.evaluate(() => ((window as unknown as { tarEvents: Logged[] }).tarEvents.length = 0));
  await page.locator('h1').click();
  await tabTo(page, 'tar-text-to-image', 'input');
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type('a small red house');
  await page.keyboard.press('Enter');
  await expect(t2i.getByRole('button', { name: 'Cancel' })).toBeEnabled();
  await expect(t2i.getByRole('status')).toHaveText('Done.', { timeout: 300_000 });
  log = await events(page);
  const image = log.find((e) => e.type === 'image');
  expect(image?.detail).toMatchObject({ index: 0, prompt: 'a small red house', seed: 7, pixels: { width: 64, height: 64, bytes: 64 * 64 * 4 }, tokens: 4 });
  // candidates="2": two pictures drawn and read back, the better-scored one kept.
  const selfCheck = image?.detail.selfCheck as { candidate: number; scores: number[] };
  expect(selfCheck.scores).toHaveLength(2);
  expect(selfCheck.scores[selfCheck.candidate]).toBe(Math.max(...selfCheck.scores));
  // drawings="2": each candidate drawn twice by the de-tokenizer, the drawing TA-Tok reads back closest kept.
  const roundTrip = image?.detail.roundTrip as { drawing: number; agreements: number[] };
  expect(roundTrip.agreements).toHaveLength(2);
  expect(roundTrip.agreements[roundTrip.drawing]).toBe(Math.max(...roundTrip.agreements));
  expect(roundTrip.agreements.indexOf(Math.max(...roundTrip.agreements))).toBe(roundTrip.drawing);
  for (const phase of ['llm', 'self-check', 'round-trip']) {
    expect(log.some((e) => e.type === 'progress' && e.detail.stage === 'job' && e.detail.phase === phase)).toBe(true);
  }
  expect(log.filter((e) => e.type === 'done' && e.tag === 'tar-text-to-image')).toHaveLength(1);
  expect(await t2i.locator('canvas').evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([64, 64]);
  await expect(t2i.getByRole('img')).toHaveAttribute('aria-label', 'Image 1 of 1: a small red house (seed 7)');

  // The chat: send the drawn picture with a question (send()), then a follow-up typed with the keyboard; both are
  // questions the model was taught, since an empty answer takes its turn back.
  const answer = await page.evaluate(async () => {
    const canvas = document.querySelector('tar-text-to-image')!.shadowRoot!.querySelector('canvas')!;
    const blob = await new Promise<Blob>((ok) => canvas.toBlob((b) => ok(b!), 'image/png'));
    return document.querySelector('tar-image-chat')!.send('describe the image.', [blob]);
  });
  log = await events(page);
  const tokens = log.filter((e) => e.type === 'token' && e.tag === 'tar-image-chat');
  expect(tokens.length).toBeGreaterThan(0);
  expect(tokens.map((e) => e.detail.text).join('')).toBe(answer);
  await expect(chat.locator('li.assistant .text')).toHaveText(answer);
  await tabTo(page, 'tar-image-chat', 'textarea');
  await page.keyboard.type('what colour is the background?');
  await page.keyboard.press('Enter');
  await expect(chat.locator('li.user')).toHaveCount(2);
  await expect(chat.getByRole('status')).toHaveText('Done.', { timeout: 60_000 });
  await expect(chat.locator('li.assistant')).toHaveCount(2);
  expect(await chat.evaluate((el: HTMLElementTagNameMap['tar-image-chat']) => el.messages.map((m) => [m.role, m.images.length]))).toEqual([
    ['user', 1],
    ['assistant', 0],
    ['user', 0],
    ['assistant', 0],
  ]);

  expect(engineWorkers).toHaveLength(1);
  expect(page.workers().filter((w) => /engine-worker/.test(w.url()))).toHaveLength(1);
  await page.screenshot({ path: 'docs/screenshots/components.png', fullPage: true });
  await page.setViewportSize({ width: 360, height: 800 });
  await page.screenshot({ path: 'docs/screenshots/components-phone.png', fullPage: true });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  expect((await events(page)).filter((e) => e.type === 'error')).toEqual([]);
  expect(errors).toEqual([]);
});

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};

/** A plain static file server over the repository root, with COOP/COEP (no Vite, no transforms). */
function staticServer(): Promise<{ server: Server; origin: string; served: string[] }> {
  const served: string[] = [];
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    const file = join(ROOT, path);
    let size: number;
    try {
      const stat = statSync(file);
      if (!file.startsWith(ROOT) || !stat.isFile()) throw new Error('not a file');
      size = stat.size;
    } catch {
      response.writeHead(404, ISOLATION).end();
      return;
    }
    served.push(path);
    response.writeHead(200, { ...ISOLATION, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served })));
}

test('examples/embed.html with only the built library draws an image', async ({ page }) => {
  execFileSync('npm', ['run', 'build:lib'], { cwd: ROOT, stdio: 'pipe' });
  const { server, origin, served } = await staticServer();
  try {
    const errors = collectErrors(page);
    await recordEvents(page);
    await page.setViewportSize({ width: 900, height: 1000 });
    await page.goto(`${origin}/examples/embed.html`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const t2i = page.locator('tar-text-to-image');
    await expect(t2i.getByLabel('Prompt')).toHaveValue('a large red circle on the left and a small blue square on the right');
    await t2i.evaluate((el) => el.setAttribute('preview-rows', '0'));
    await t2i.getByRole('button', { name: 'Generate' }).click();
    await expect(t2i.getByRole('status')).toHaveText('Done.', { timeout: 300_000 });
    const log = await events(page);
    expect(log.find((e) => e.type === 'image')?.detail).toMatchObject({ seed: 7, pixels: { width: 64, height: 64 } });
    expect(log.filter((e) => e.type === 'error')).toEqual([]);

    const code = served.filter((p) => /\.(js|mjs|wasm|ts)$/.test(p));
    expect(code.every((p) => p.startsWith('/dist/lib/')), code.join(', ')).toBe(true);
    expect(code).toContain('/dist/lib/tar-webgpu.js');
    expect(code.some((p) => /^\/dist\/lib\/assets\/engine-worker-[\w-]+\.js$/.test(p))).toBe(true);
    expect(code.some((p) => /^\/dist\/lib\/assets\/ort-wasm-[\w.-]+\.wasm$/.test(p))).toBe(true);
    await page.screenshot({ path: 'docs/screenshots/components-embed.png', fullPage: true });
    expect(errors).toEqual([]);
  } finally {
    server.close();
  }
});

// The dev server answers an unknown path with its index page, so the missing package reads as "not JSON".
test('errors in plain words: no model attribute, and a URL with no package', async ({ page }) => {
  const errors = collectErrors(page);
  await recordEvents(page);
  const body = PAGE.replace('<tar-image-chat model="/models/tar-shapes/"', '<tar-image-chat model="/no-such-model/"').replace(' model="/models/tar-shapes/"', '');
  await page.route('**/__components.html', (route) => route.fulfill({ contentType: 'text/html', headers: ISOLATION, body }));
  await page.goto('/__components.html');
  const t2i = page.locator('tar-text-to-image');
  const chat = page.locator('tar-image-chat');
  await t2i.getByLabel('Prompt').fill('a cat');
  await t2i.getByRole('button', { name: 'Generate' }).click();
  await expect(t2i.getByRole('alert')).toContainText('No model is set for this element.');
  await chat.getByLabel('Message').fill('hello');
  await chat.getByRole('button', { name: 'Send' }).click();
  await expect(chat.getByRole('alert')).toContainText('This is not a Tar model package.', { timeout: 60_000 });
  await expect(chat.getByLabel('Message')).toHaveValue('hello');
  await expect(chat.locator('li')).toHaveCount(0);
  const log = (await events(page)).filter((e) => e.type === 'error');
  expect(log.map((e) => [e.tag, e.detail.error])).toEqual([
    ['tar-text-to-image', 'MissingModelError'],
    ['tar-image-chat', 'ModelSourceError'],
  ]);
  expect(errors).toEqual([]);
});
