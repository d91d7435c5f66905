// The text-to-image page (index.html) on the embedded default model (Tar-Shapes) in real Chromium: it renders and
// loads the default model showing bytes per file; Cancel stops a job, and the next one, driven by the keyboard
// alone, shows a live preview and ends with a 64 × 64 PNG in the gallery that the Tar-Shapes evaluator reads as the
// held-out prompt's objects (one user's session, so that the suite draws one picture here, not two); a bad model URL gives a plain-words error and a package
// folder picked from disk (the tiny package) loads; screenshots (desktop, phone width, dark, bad model) go to
// docs/screenshots/; no console errors anywhere.
import { expect, test, type Page } from '@playwright/test';
import { formatBytes } from '../../src/ui/errors-text.ts';
import { DEFAULT_PACKAGE, packageBytes, readPicture } from './shapes-world.ts';

// A held-out prompt of the evaluation set (a colour–shape–place triple in it is never in a training scene), drawn
// at 36 tokens with this seed; what the evaluator must read in the picture: each object's colour, shape, size and
// place (the model's scores over many prompts are in docs/tar-shapes.md and bench/results/shapes-eval.json).
const PROMPT = 'a small blue star at the top and a small orange square on the right';
const SEED = '1';
const OBJECTS = [
  { colour: 'blue', shape: 'star', size: 'small', position: 'top' },
  { colour: 'orange', shape: 'square', size: 'small', position: 'right' },
];

// A Tar-Shapes picture takes ~40 s on SwiftShader (the de-tokenizer's 256 steps and the VQ decoder), longer on a
// loaded machine.
test.describe.configure({ timeout: 480_000 });

/** Console errors and uncaught exceptions of `page`; `allowed` matches expected ones (checked by the caller). */
function collectErrors(page: Page, allowed: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !allowed.some((re) => re.test(message.text()))) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.stack ?? error.message}`));
  return errors;
}

async function openReady(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.locator('#status')).toContainText('is ready', { timeout: 120_000 });
  await expect(page.locator('#generate')).toBeEnabled();
}

/** Presses Tab (or Shift+Tab) until `selector` has focus. */
async function tabTo(page: Page, selector: string, backwards = false): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if (await page.locator(selector).evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** True once the in-progress card's canvas holds a drawn (opaque) pixel: a preview arrived. */
async function previewDrawn(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('#gallery canvas');
    const data = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
    return data ? data.some((v, i) => i % 4 === 3 && v > 0) : false;
  });
}

test('download progress per file; Cancel stops a job and the buttons return; then, by keyboard alone, the next job turns a prompt into a 64 px image with a live preview; screenshots at desktop and phone width', async ({ page }) => {
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  // Hold the package's last file back so the download is seen midway.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(`**/${DEFAULT_PACKAGE.replace('public/', '')}/vq/decoder.onnx`, async (route) => {
    await held;
    await route.continue();
  });
  await page.goto('/');
  const total = formatBytes(packageBytes());
  await expect(page.locator('#download-text')).toContainText(new RegExp(`Downloading the model: [\\d.]+ [kM]B of ${total.replace('.', '\\.')}`), {
    timeout: 60_000,
  });
  const first = formatBytes(packageBytes('ardtok/condition_embed.onnx'));
  await expect(page.locator('#download-files li').first()).toContainText(new RegExp(`ardtok/condition_embed\\.onnx\\s*${first.replace('.', '\\.')} ✓`));
  await expect(page.locator('#download-total')).toBeVisible();
  release();
  await expect(page.locator('#status')).toContainText('is ready', { timeout: 120_000 });
  await expect(page.locator('#download')).toBeHidden();
  await expect(page.locator('#generate')).toBeEnabled();
  await expect(page.locator('#scale option')).toHaveText(['4 tokens (fastest)', '9 tokens', '36 tokens']);
  await expect(page.locator('#size')).toHaveValue('64');
  await expect(page.locator('#drawings')).toHaveValue('1'); // the package's default: one drawing, no round trip

  // Cancel: a job stopped while it chooses image tokens leaves no image, and the buttons return.
  await page.locator('#scale').selectOption('1');
  await page.locator('#previews').selectOption('0');
  await page.locator('#generate').click();
  await expect(page.locator('#cancel')).toBeFocused();
  await expect(page.locator('#gallery figcaption')).toContainText('choosing image tokens', { timeout: 120_000 });
  await page.locator('#cancel').click();
  await expect(page.locator('#status')).toHaveText('Cancelled.');
  await expect(page.locator('#gallery li')).toHaveCount(0);
  await expect(page.locator('#cancel')).toBeDisabled();
  await expect(page.locator('#generate')).toBeEnabled();
  await expect(page.locator('#error')).toBeHidden();

  // The next job, by keyboard alone: the held-out prompt at 36 tokens, seed 1, a preview every 4 rows.
  await tabTo(page, '#prompt');
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(PROMPT);
  await tabTo(page, '#scale');
  await page.keyboard.press('End');
  await expect(page.locator('#scale')).toHaveValue('1');
  await tabTo(page, '#seed');
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(SEED);
  await tabTo(page, '#previews');
  await page.keyboard.press('ArrowUp'); // from "off" to every 4 rows of the VQ code grid (each preview is a VQ decode)
  await expect(page.locator('#previews')).toHaveValue('4');
  await tabTo(page, '#prompt', true);
  await page.keyboard.press('Enter');

  await expect(page.locator('#cancel')).toBeEnabled();
  await expect(page.locator('#generate')).toBeDisabled();
  await expect.poll(() => previewDrawn(page), { timeout: 240_000, intervals: [100] }).toBe(true);
  const image = page.locator('#gallery img');
  await expect(image).toHaveCount(1, { timeout: 300_000 });
  await expect(page.locator('#status')).toContainText('Done: an image in');
  await expect(page.locator('#gallery figcaption')).toContainText(PROMPT);
  await expect(page.locator('#gallery figcaption')).toContainText(`seed ${SEED} · 64 × 64 px`);
  await expect(page.locator('#cancel')).toBeDisabled();
  await expect(page.locator('#generate')).toBeEnabled();
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt');

  const saved = await page.locator('#gallery a[download]').evaluate(async (link: HTMLAnchorElement) => {
    const blob = await (await fetch(link.href)).blob();
    const bitmap = await createImageBitmap(blob);
    const bytes = Array.from(new Uint8Array(await blob.arrayBuffer()));
    return { type: blob.type, name: link.download, width: bitmap.width, height: bitmap.height, bytes };
  });
  const { bytes, ...file } = saved;
  // The file name holds the prompt's first 40 characters.
  expect(file).toEqual({ type: 'image/png', name: `tar-a-small-blue-star-at-the-top-and-a-small-${SEED}.png`, width: 64, height: 64 });
  const reading = readPicture(Buffer.from(bytes), PROMPT);
  const seen = reading.objects.map(({ colour, shape, size, position }) => ({ colour, shape, size, position }));
  expect(seen, `the evaluator's reading of the picture drawn for "${PROMPT}": ${JSON.stringify(reading)}`).toEqual(OBJECTS);
  expect(await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([64, 64]);

  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: 'docs/screenshots/t2i-desktop.png' });
  await page.setViewportSize({ width: 360, height: 780 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await page.screenshot({ path: 'docs/screenshots/t2i-phone.png', fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: 'docs/screenshots/t2i-dark.png' });
  await page.locator('#clear-gallery').click();
  await expect(page.locator('#gallery li')).toHaveCount(0);
  await expect(page.locator('#gallery-empty')).toBeVisible();
  await expect(page.locator('#prompt')).toBeFocused();
  expect(errors).toEqual([]);
});

test('a bad model URL gives a readable error; a package folder picked from disk loads', async ({ page, baseURL }) => {
  // The browser itself logs the failed request of a missing package; nothing else may reach the console.
  const errors = collectErrors(page, [/Failed to load resource: the server responded with a status of 404/]);
  await openReady(page);
  await page.locator('#model-section summary').click();
  await page.getByLabel('A web address').check();
  await page.getByLabel('Model package URL').fill(`${baseURL}/no-such-model/`);
  await page.getByRole('button', { name: 'Load model' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toBeVisible({ timeout: 60_000 });
  await expect(alert).toContainText(/Could not load .*no-such-model.*(No Tar model package was found|This is not a Tar model package)/);
  await expect(alert).toContainText('manifest.json');
  await expect(page.locator('#generate')).toBeDisabled();
  await page.screenshot({ path: 'docs/screenshots/t2i-bad-model.png' });

  await page.getByLabel('A folder on this device').check();
  await page.getByLabel('Model package folder').setInputFiles('public/models/tiny');
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#status')).toContainText('tar-tiny-random is ready', { timeout: 120_000 });
  await expect(page.locator('#model-name')).toHaveText('tar-tiny-random');
  await expect(alert).toBeHidden();
  await expect(page.locator('#generate')).toBeEnabled();
  expect(errors).toEqual([]);
});
