// The Node side of the headless engine page (scripts/headless/engine.html): serves the repo with a quiet Vite,
// opens the page in headless Chromium with WebGPU and hands back the page, whose `window.tarHeadless` runs the
// jobs. Shared by scripts/engine-cli.mjs and bench/eval-shapes.mjs; it runs no job itself.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { chromium } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../browser.mjs';
import { startQuietVite } from '../quiet-vite.mjs';

const IMAGE_TYPES = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

/** An image file as the page's chat jobs take it: its bytes and MIME type. */
export async function imageInput(path) {
  const type = IMAGE_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
  return { bytes: Array.from(await readFile(path)), type };
}

/** Starts the server and the browser and opens the engine page; → { page, url, close }. */
export async function openEnginePage() {
  const root = new URL('../..', import.meta.url).pathname;
  const { server, url } = await startQuietVite(root);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  const close = async () => {
    await browser.close();
    await server.close();
  };
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    await page.goto(`${url}/scripts/headless/engine.html`);
    await page.waitForSelector('body[data-ready="true"]');
    return { page, url, close };
  } catch (error) {
    await close();
    throw error;
  }
}
