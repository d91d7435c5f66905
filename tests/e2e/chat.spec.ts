// The image chat page (chat.html) on the embedded default model (Tar-Shapes): it renders; a held-out picture of
// the Tar-Shapes world and a question stream a right answer token by token (scored by the world's evaluator); a
// second turn; a /draw request draws a picture inline (64 px, previews first); the conversation survives a reload; keyboard alone starts a conversation, sends and stops (Esc) an
// answer; chat text is shown literally, never as HTML; export gives JSON with data URLs; delete removes it;
// stored answers say when they were stopped or came back empty; screenshots (wide and 360 px) go to
// docs/screenshots/; no console errors. One page for the whole file, tests
// run in order and build on each other.
import { readFile } from 'node:fs/promises';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { answerIsRight, heldOutScene } from './shapes-world.ts';

test.describe.configure({ mode: 'serial', timeout: 420_000 }); // a Tar-Shapes picture takes ~40 s on SwiftShader

let context: BrowserContext;
let page: Page;
// A held-out test scene of the Tar-Shapes world and one of its questions, asked as a person would type it.
const SCENE = 0;
const FIRST_TITLE = 'what is on the right?';
const problems: string[] = [];
const dialogs: string[] = [];

async function waitReady(): Promise<void> {
  await expect(page.locator('#engine-status')).toContainText('Ready', { timeout: 90_000 });
}

/** Counts the separate text pieces the streaming answer receives (one DOM append per non-empty token). */
async function watchStreaming(): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { pieces: number };
    w.pieces = 0;
    new MutationObserver((records) => {
      for (const r of records) if (r.target instanceof HTMLElement && r.target.matches('.assistant .text')) w.pieces += r.addedNodes.length;
    }).observe(document.querySelector('#transcript') as Node, { childList: true, subtree: true });
  });
}

async function waitIdle(): Promise<void> {
  await expect(page.locator('#send')).toBeVisible({ timeout: 120_000 });
}

test.beforeAll(async ({ browser }) => {
  context = await browser.newContext({ acceptDownloads: true });
  // Silence Vite's HMR socket: other people's edits in the shared tree must not reload this page mid-test.
  await context.routeWebSocket(/.*/, () => undefined);
  page = await context.newPage();
  page.on('console', (m) => {
    // onnxruntime-web prints its own warning-level log ("[W:onnxruntime:…] Some nodes were not assigned…")
    // through console.error when a session is created; that is the engine's log level, not a page error.
    if (m.type() === 'error' && !/^\S+ \S+ \[W:onnxruntime:/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void (d.type() === 'confirm' ? d.accept() : d.dismiss());
  });
  await page.goto('/chat.html');
  await waitReady();
});

test.afterAll(async () => {
  await context.close();
});

test.afterEach(() => {
  expect(problems).toEqual([]);
});

test('renders; an attached image and a question stream an answer; a second turn follows', async () => {
  await expect(page.getByRole('heading', { name: 'Tar image chat' })).toBeVisible();
  await expect(page.getByRole('log', { name: 'Conversation' })).toBeVisible();
  await page.getByText('Settings').click();
  await page.getByLabel('Answer length').selectOption('32');

  const scene = heldOutScene(SCENE);
  const truth = scene.questions.find(([question]) => question === FIRST_TITLE.toLowerCase())?.[1];
  expect(truth, `scene ${SCENE} (${scene.caption}) has the question "${FIRST_TITLE}"`).toBeDefined();
  await page.locator('#file').setInputFiles({ name: 'shapes.png', mimeType: 'image/png', buffer: scene.png });
  await expect(page.getByRole('img', { name: 'Attached image 1: shapes.png' })).toBeVisible();
  await page.getByLabel('Message').fill(FIRST_TITLE);
  await watchStreaming();
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByRole('button', { name: 'Stop' })).toBeVisible();
  await waitIdle();

  const user = page.locator('.message.user').first();
  await expect(user.getByRole('img', { name: 'Your image 1' })).toBeVisible();
  await expect(user.locator('.text')).toHaveText(FIRST_TITLE);
  const answer = page.locator('.message.assistant').first();
  await expect(answer).not.toHaveAttribute('aria-busy');
  const pieces = await page.evaluate(() => (window as unknown as { pieces: number }).pieces);
  expect(pieces, 'the answer arrived in several token pieces').toBeGreaterThan(1);
  const said = (await answer.locator('.text').textContent()) ?? '';
  expect(answerIsRight(FIRST_TITLE, truth as string, said), `"${said}" answers "${FIRST_TITLE}" about ${scene.caption}`).toBe(true);
  await expect(page.locator('#attachments')).toBeHidden();

  await page.getByLabel('Message').fill('And what shape is it?');
  await page.getByRole('button', { name: 'Send' }).click();
  await waitIdle();
  await expect(page.locator('.message.user')).toHaveCount(2);
  await expect(page.locator('.message.assistant')).toHaveCount(2);
  await expect(page.locator('.message.error')).toHaveCount(0);
});

test('a /draw request draws a picture inline, with previews first', async () => {
  await page.evaluate(() => {
    const w = window as unknown as { previews: number };
    w.previews = 0;
    new MutationObserver(() => {
      if (document.querySelector('canvas.preview:not([hidden])')) w.previews++;
    }).observe(document.querySelector('#transcript') as Node, { subtree: true, attributes: true, attributeFilter: ['hidden', 'width'] });
  });
  await expect(page.getByLabel('Picture detail'), "the package's default pool scale is chosen").toHaveValue('1');
  await expect(page.getByLabel('Looks at each picture'), "the package's test-time views are chosen").toHaveValue('5');
  await page.getByLabel('Message').fill('/draw a red circle on the left and a blue square on the right');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.locator('.message.user').last()).toContainText('Draw: a red circle on the left and a blue square on the right');
  const picture = page.getByRole('img', { name: 'Picture drawn for: a red circle on the left and a blue square on the right' });
  await expect(picture).toBeVisible({ timeout: 300_000 });
  expect(await picture.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([64, 64]);
  expect(await page.evaluate(() => (window as unknown as { previews: number }).previews)).toBeGreaterThan(0);
  await expect(page.getByRole('link', { name: 'Save PNG' })).toHaveAttribute('download', /\.png$/);
  await waitIdle();
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.screenshot({ path: 'docs/screenshots/chat.png', fullPage: true });

  // "Ask about this" attaches the drawn picture to the next question; removing it with the keyboard moves
  // the focus to the message box.
  await page.getByRole('button', { name: 'Ask about this' }).click();
  await expect(page.getByLabel('Message')).toBeFocused();
  await expect(page.locator('#attachments img')).toHaveCount(1);
  await page.getByRole('button', { name: 'Remove image 1' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('#attachments')).toBeHidden();
  await expect(page.getByLabel('Message')).toBeFocused();
});

test('the conversation survives a reload; keyboard alone: new conversation, send, stop; text stays literal', async () => {
  const before = await page.locator('.message').count();
  await page.reload(); // also puts the keyboard focus back at the top of the page
  await waitReady();
  await expect(page.locator('.message')).toHaveCount(before);
  await expect(page.getByRole('img', { name: 'Picture drawn for: a red circle on the left and a blue square on the right' })).toBeVisible();
  await expect(page.locator('.message.user').first().getByRole('img', { name: 'Your image 1' })).toBeVisible();
  await expect(page.locator('#conversations .open[aria-current="true"]')).toHaveText(FIRST_TITLE);
  await page.setViewportSize({ width: 360, height: 780 });
  await page.screenshot({ path: 'docs/screenshots/chat-phone.png', fullPage: true });
  await page.setViewportSize({ width: 1200, height: 900 });

  // Tab: skip link, "Text to image", "New"; Enter starts a conversation and focuses the message box.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to the message box' })).toBeFocused();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'New' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Message')).toBeFocused();
  await expect(page.locator('.message')).toHaveCount(0);
  const evil = '<img src=x onerror=alert(1)>';
  await page.keyboard.type(evil);

  // Esc right after Enter: the question is busy from the moment it is sent (Stop shows at once), so the stop
  // lands before any token, whatever the model would answer or however long the answer would take. (Stopping
  // after the first text would race the model's end of turn: the random model ends at once about one time in
  // twenty, a trained one answers in a few tokens.)
  await page.keyboard.press('Enter');
  await page.keyboard.press('Escape');
  await waitIdle();
  const sent = page.locator('.message.user').last();
  await expect(sent.locator('.text')).toHaveText(evil);
  expect(await page.locator('#transcript img').count()).toBe(0);
  const stopped = page.locator('.message.assistant');
  await expect(stopped).toHaveCount(1);
  await expect(stopped).not.toHaveAttribute('aria-busy');
  await expect(stopped.locator('.text')).toHaveText('');
  await expect(stopped.locator('.note')).toHaveText('Stopped before any answer came.');
  await expect(page.locator('#composer-status')).toHaveText('Answer stopped.');
  await expect(page.getByLabel('Message')).toBeFocused();
  await expect(page.locator('#conversations .open')).toHaveCount(2);
  await expect(page.locator('#conversations .open[aria-current="true"]')).toHaveText(evil);
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  expect(dialogs).toEqual([]);
});

/** A synthetic drop on the chat area or paste into the message box, of an 8 px PNG named `name` (and a text
 *  file too, when `withText`). */
async function dispatchFiles(how: 'drop' | 'paste', name: string, withText = false): Promise<void> {
  await page.evaluate(
    async ({ how, name, withText }) => {
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 8;
      const png = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b as Blob), 'image/png'));
      const data = new DataTransfer();
      data.items.add(new File([png], name, { type: 'image/png' }));
      if (withText) data.items.add(new File(['notes'], 'notes.txt', { type: 'text/plain' }));
      const init = { bubbles: true, cancelable: true };
      if (how === 'paste') {
        document.querySelector('#message')?.dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: data }));
        return;
      }
      const zone = document.querySelector('#chat') as HTMLElement;
      zone.dispatchEvent(new DragEvent('dragover', { ...init, dataTransfer: data }));
      zone.dispatchEvent(new DragEvent('drop', { ...init, dataTransfer: data }));
    },
    { how, name, withText },
  );
}

test('images can be dropped and pasted; files that are not images are refused', async () => {
  await dispatchFiles('drop', 'dropped.png', true);
  await expect(page.locator('#composer-status')).toHaveText('One file is not an image and left out. 1 image attached.');
  await dispatchFiles('paste', 'pasted.png');
  await expect(page.getByRole('img', { name: 'Attached image 1: dropped.png' })).toBeVisible();
  await expect(page.getByRole('img', { name: 'Attached image 2: pasted.png' })).toBeVisible();
  await expect(page.locator('#attachments img')).toHaveCount(2);
  await expect(page.locator('#composer-status')).toHaveText('2 images attached.');
  await expect(page.locator('#chat')).not.toHaveClass(/dragging/);
  await page.getByRole('button', { name: 'Remove image 2' }).click();
  await page.getByRole('button', { name: 'Remove image 1' }).click();
  await expect(page.locator('#attachments')).toBeHidden();
});

test('export gives JSON with data URLs; delete removes the conversation for good', async () => {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: `Export “${FIRST_TITLE}” as JSON` }).click(),
  ]);
  const json = JSON.parse(await readFile((await download.path()) as string, 'utf8'));
  expect(json.format).toBe('tar-chat-conversation');
  expect(json.title).toBe(FIRST_TITLE);
  expect(json.messages[0].text).toBe(FIRST_TITLE);
  expect(json.messages[0].images[0]).toMatch(/^data:image\/png;base64,/);
  const drawn = json.messages.find((m: { kind: string; role: string }) => m.kind === 'draw' && m.role === 'assistant');
  expect(drawn.images[0]).toMatch(/^data:image\/png;base64,/);

  await page.getByRole('button', { name: `Delete “${FIRST_TITLE}”` }).click();
  expect(dialogs.filter((d) => d.startsWith('confirm'))).toHaveLength(1);
  await expect(page.locator('#conversations .open')).toHaveCount(1);
  await page.reload();
  await waitReady();
  await expect(page.locator('#conversations .open')).toHaveCount(1);
  await expect(page.getByRole('button', { name: `Delete “${FIRST_TITLE}”` })).toHaveCount(0);
});

test('answers say when they were stopped or came back empty, after a reload too', async () => {
  // A conversation from an earlier visit, put in the page's store (store.ts: IndexedDB 'tar-chat'/'conversations',
  // keyed by id): one answer the model ended at once, one stopped midway.
  const title = 'Hello?';
  await page.evaluate(async (title) => {
    const chat = (role: string, text: string, stopped = false) => ({
      id: crypto.randomUUID(),
      role,
      kind: 'chat',
      text,
      images: [],
      ...(stopped ? { stopped } : {}),
    });
    const now = Date.now();
    const messages = [chat('user', title), chat('assistant', ''), chat('user', 'Tell me more.'), chat('assistant', 'It is', true)];
    const conversation = { id: crypto.randomUUID(), title, createdAt: now, updatedAt: now, messages };
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('tar-chat');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('conversations', 'readwrite');
      tx.objectStore('conversations').put(conversation, conversation.id);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }, title);
  await page.reload();
  await waitReady();
  await expect(page.locator('#conversations .open[aria-current="true"]')).toHaveText(title);
  const answers = page.locator('.message.assistant');
  await expect(answers.locator('.text')).toHaveText(['', 'It is']);
  await expect(answers.locator('.note')).toHaveText(['The model gave no answer.', 'Stopped.']);
});
