// Weights delivery (src/storage/) in real Chromium with a persistent profile (the cache survives reloads),
// against the fault-injecting server of tests/server/: cuts at random offsets, a corrupted byte, Range
// ignored, HTTP errors, abort and reload, a cached start with zero weight requests, offline, quota shortfall
// (simulated by an init script overriding navigator.storage.estimate), a real QuotaExceededError midway (a
// quota lowered through the DevTools protocol), deletion freeing space, and a picked local folder.
import { chromium, expect, test, type BrowserContext, type Page } from '@playwright/test';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromiumArgs, chromiumPath } from '../../scripts/browser.mjs';
import { FaultServer, type Fault } from '../server/fault-server.ts';
import { syntheticPackage, type SyntheticPackage } from '../server/synthetic-package.ts';
import type { RunOptions, RunReport } from '../storage/page.ts';

const CHUNK = 64 * 1024;
let context: BrowserContext;
let server: FaultServer;
let profile: string;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  profile = mkdtempSync(join(tmpdir(), 'tar-storage-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: chromiumArgs, headless: true });
  server = await FaultServer.start();
});

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(profile, { recursive: true, force: true });
});

async function openPage(init?: () => void): Promise<Page> {
  const page = await context.newPage();
  if (init) await page.addInitScript(init);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${test.info().project.use.baseURL}/tests/storage/storage.html`);
  await page.waitForSelector('body[data-ready="true"]');
  page.on('close', () => expect(errors, 'uncaught errors in the storage page').toEqual([]));
  return page;
}

const openUrl = (page: Page, base: string, options: RunOptions = {}): Promise<RunReport> =>
  page.evaluate(([b, o]) => window.storageTest.openUrl(b, o), [base, { chunkBytes: CHUNK, verify: true, ...options }] as const);

function serve(prefix: string, pkg: SyntheticPackage): string {
  return server.addFiles(prefix, pkg.files);
}

function weightRequests(prefix: string): number {
  return server.requests(prefix).filter((r) => !r.path.endsWith('/manifest.json')).length;
}

function seeded(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
}

test('24 cuts at random offsets (plus an HTTP 500, no Content-Length) end in a complete verified package, never restarting a file', async () => {
  const pkg = syntheticPackage('cuts', 300_000, [1_500_000, 700_001]);
  const base = serve('cuts', pkg);
  const rand = seeded(20261129);
  const plan: Record<string, Fault[]> = { 'vq/decoder.onnx': [], 'vq/decoder.onnx.data': [], 'vq/decoder.onnx.data1': [] };
  for (let i = 0; i < 24; i++) {
    const path = i < 14 ? 'vq/decoder.onnx.data' : i < 19 ? 'vq/decoder.onnx.data1' : 'vq/decoder.onnx';
    plan[path]?.push({ cutAfter: 1 + rand(100_000), noLength: i % 3 === 0 });
  }
  plan['vq/decoder.onnx.data']?.splice(5, 0, { status: 500 });
  for (const [path, faults] of Object.entries(plan)) server.fault('cuts', path, ...faults);

  const page = await openPage();
  const report = await openUrl(page, base, { maxRetries: 10 });
  expect(report.error).toBeNull();
  expect(report.verified).toHaveLength(3);
  expect(report.verified.every((v) => v.ok)).toBe(true);
  expect(report.progressConsistent).toBe(true);
  expect(report.lastProgress).toMatchObject({ loaded: pkg.totalBytes, total: pkg.totalBytes });
  const requests = server.requests('cuts').filter((r) => !r.path.endsWith('/manifest.json'));
  const cuts = requests.filter((r) => {
    const size = pkg.files.get(r.path.slice('/cuts/'.length))?.length as number;
    return r.fault?.cutAfter !== undefined && r.sentBytes === r.fault.cutAfter && r.start + r.sentBytes < size;
  });
  test.info().annotations.push({ type: 'cuts', description: `${cuts.length} connections cut mid-file, ${requests.length} requests` });
  expect(cuts.length).toBeGreaterThanOrEqual(20);
  // Every request but each file's last one failed, and each failure was followed by a resuming try.
  expect(report.events.filter((e) => e.type === 'retry').length).toBe(requests.length - 3);
  expect(report.events.filter((e) => e.type === 'restart')).toEqual([]);
  for (const path of Object.keys(plan)) {
    expect(server.pending('cuts', path), `faults left for ${path}`).toBe(0);
    const size = pkg.files.get(path)?.length as number;
    const requests = server.requests('cuts', path).filter((r) => r.status === 200 || r.status === 206);
    expect(requests[0]?.range).toBeNull();
    for (let i = 1; i < requests.length; i++) {
      // Each try resumes where the bytes received stopped: never backwards (no file starts over).
      expect(requests[i]?.start).toBeGreaterThanOrEqual(requests[i - 1]?.start as number);
    }
    expect(requests.at(-1)?.start).toBeGreaterThan(0);
    const served = requests.reduce((s, r) => s + r.sentBytes, 0);
    test.info().annotations.push({ type: `served/size ${path}`, description: `${served}/${size} in ${requests.length} requests` });
    expect(served).toBeLessThan(1.5 * size);
  }
  await page.close();
});

test('a corrupted byte is detected and only that file is fetched again', async () => {
  const pkg = syntheticPackage('corrupt', 200_000, [600_000]);
  const base = serve('corrupt', pkg);
  server.fault('corrupt', 'vq/decoder.onnx.data', { corruptAt: 456_789 });
  const page = await openPage();
  const report = await openUrl(page, base);
  expect(report.error).toBeNull();
  expect(report.verified.every((v) => v.ok)).toBe(true);
  expect(report.events.filter((e) => e.type === 'restart')).toEqual([{ type: 'restart', path: 'vq/decoder.onnx.data', reason: 'corrupt' }]);
  expect(server.requests('corrupt', 'vq/decoder.onnx.data')).toHaveLength(2);
  expect(server.requests('corrupt', 'vq/decoder.onnx')).toHaveLength(1);
  expect(report.progressConsistent).toBe(true);
  await page.close();
});

test('a server that ignores Range makes the file start over cleanly', async () => {
  const pkg = syntheticPackage('norange', 100_000, [500_000]);
  const base = serve('norange', pkg);
  server.fault('norange', 'vq/decoder.onnx.data', { cutAfter: 200_000 }, { ignoreRange: true, noLength: true }, { noLength: true });
  const page = await openPage();
  const report = await openUrl(page, base);
  expect(report.error).toBeNull();
  expect(report.verified.every((v) => v.ok)).toBe(true);
  expect(report.events.filter((e) => e.type === 'restart')).toEqual([{ type: 'restart', path: 'vq/decoder.onnx.data', reason: 'range-ignored' }]);
  expect(server.requests('norange', 'vq/decoder.onnx.data').map((r) => r.start)).toEqual([0, 0, 0]);
  expect(report.progressConsistent).toBe(true);
  await page.close();
});

test('HTTP 404 is a typed error; the cache stays consistent and the next try fetches only what is missing', async () => {
  const pkg = syntheticPackage('http404', 100_000, [300_000, 200_000]);
  const base = serve('http404', pkg);
  server.fault('http404', 'vq/decoder.onnx.data1', { status: 404 });
  const page = await openPage();
  const failed = await openUrl(page, base);
  expect(failed.error).toMatchObject({ name: 'DownloadError', code: 'download-failed' });
  expect(failed.error?.message).toContain('HTTP 404');
  const key = (failed.events.find((e) => e.type === 'manifest') as { modelKey: string }).modelKey;
  expect(await page.evaluate((k) => window.storageTest.consistency(k), key)).toMatchObject({ complete: false, missing: 0 });
  const listed = (await page.evaluate(() => window.storageTest.list())).find((m) => m.modelKey === key);
  expect(listed).toMatchObject({ complete: false, storedBytes: 400_000, totalBytes: pkg.totalBytes });
  // A model that did not finish never opens as complete.
  const early = await page.evaluate((k) => window.storageTest.loadCached(k, 'file').then(() => null, (e: Error) => e.message), key);
  expect(early).toContain('not completely cached');

  const again = await openUrl(page, base);
  expect(again.error).toBeNull();
  expect(again.verified.every((v) => v.ok)).toBe(true);
  expect(again.events.find((e) => e.type === 'manifest')).toMatchObject({ cachedBytes: 400_000 });
  expect(server.requests('http404', 'vq/decoder.onnx')).toHaveLength(1);
  expect(server.requests('http404', 'vq/decoder.onnx.data')).toHaveLength(1);
  await page.close();
});

test('abort midway, reload: the download resumes from the last stored chunk; then a cached start makes zero weight requests, also offline', async () => {
  const pkg = syntheticPackage('reload', 100_000, [1_000_000]);
  const base = serve('reload', pkg);
  let page = await openPage();
  const aborted = await openUrl(page, base, { abortAtLoaded: 600_000 });
  expect(aborted.error).toMatchObject({ name: 'AbortError' });
  const key = (aborted.events.find((e) => e.type === 'manifest') as { modelKey: string }).modelKey;
  const state = await page.evaluate((k) => window.storageTest.consistency(k), key);
  expect(state).toMatchObject({ complete: false, missing: 0 });
  expect(state?.counted).toBeGreaterThan(3);
  await page.close();

  page = await openPage();
  const before = server.requests('reload', 'vq/decoder.onnx.data').length;
  const resumed = await openUrl(page, base);
  expect(resumed.error).toBeNull();
  expect(resumed.verified.every((v) => v.ok)).toBe(true);
  const after = server.requests('reload', 'vq/decoder.onnx.data').slice(before);
  expect(after).toHaveLength(1);
  expect(after[0]?.start).toBeGreaterThan(0);
  expect((after[0]?.start as number) % CHUNK).toBe(0);
  await page.close();

  page = await openPage();
  const weightsBefore = weightRequests('reload');
  const cached = await openUrl(page, base);
  expect(cached.error).toBeNull();
  expect(cached.verified.every((v) => v.ok)).toBe(true);
  expect(cached.events.at(-1)).toMatchObject({ type: 'complete', fetchedBytes: 0 });
  expect(weightRequests('reload')).toBe(weightsBefore);
  const load = await page.evaluate((k) => window.storageTest.loadCached(k, 'file'), key);
  expect(load.bytes).toBe(pkg.totalBytes);
  test.info().annotations.push({ type: 'load from cache', description: `${pkg.totalBytes} B in ${load.ms.toFixed(0)} ms` });

  server.fault('reload', 'manifest.json', { cutAfter: 0 });
  const offline = await openUrl(page, base);
  expect(offline.error).toBeNull();
  expect(offline.events[0]).toMatchObject({ type: 'manifest', offline: true, modelKey: key });
  expect(offline.verified.every((v) => v.ok)).toBe(true);
  expect(weightRequests('reload')).toBe(weightsBefore);
  await page.close();
});

test('simulated quota shortfall (estimate overridden by an init script) is a typed error saying needed and free', async () => {
  const pkg = syntheticPackage('quota', 100_000, [2_000_000]);
  const base = serve('quota', pkg);
  // The simulation: this page's navigator.storage.estimate() reports 0.6 MB free.
  const page = await openPage(() => {
    navigator.storage.estimate = async () => ({ quota: 1_000_000, usage: 400_000 });
  });
  const report = await openUrl(page, base);
  expect(report.error).toMatchObject({ name: 'StorageQuotaError', code: 'storage-quota' });
  expect(report.error?.message).toContain('2.1 MB needed, 0.6 MB free');
  expect(weightRequests('quota')).toBe(0);
  await page.close();
});

test('a real QuotaExceededError midway leaves a consistent cache that resumes once space is back', async () => {
  const pkg = syntheticPackage('midway', 100_000, [3_000_000]);
  const base = serve('midway', pkg);
  // A fresh profile: Chromium enforced the DevTools quota override reliably only on an origin whose IndexedDB
  // was not opened before in that profile.
  const dir = mkdtempSync(join(tmpdir(), 'tar-storage-quota-'));
  const fresh = await chromium.launchPersistentContext(dir, { executablePath: chromiumPath, args: chromiumArgs, headless: true });
  try {
    const page = await fresh.newPage();
    // The estimate lies (says plenty free) while the real quota, lowered via DevTools, is too small.
    await page.addInitScript(() => {
      navigator.storage.estimate = async () => ({ quota: 1e12, usage: 0 });
    });
    await page.goto(`${test.info().project.use.baseURL}/tests/storage/storage.html`);
    await page.waitForSelector('body[data-ready="true"]');
    const cdp = await fresh.newCDPSession(page);
    const origin = new URL(page.url()).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1_500_000 });
    const failed = await openUrl(page, base);
    expect(failed.error).toMatchObject({ name: 'StorageQuotaError', code: 'storage-quota' });
    expect(failed.error?.message).toContain('refused to store more');
    const key = (failed.events.find((e) => e.type === 'manifest') as { modelKey: string }).modelKey;
    const state = await page.evaluate((k) => window.storageTest.consistency(k), key);
    expect(state).toMatchObject({ complete: false, missing: 0 });
    expect(state?.counted).toBeGreaterThan(0);

    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    const resumed = await openUrl(page, base);
    expect(resumed.error).toBeNull();
    expect(resumed.verified.every((v) => v.ok)).toBe(true);
    expect((resumed.events.find((e) => e.type === 'manifest') as { cachedBytes: number }).cachedBytes).toBeGreaterThan(pkg.files.get('vq/decoder.onnx')!.length);
  } finally {
    await fresh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a picked local folder goes through the same cache; two versions of one model never mix; delete frees space; clear empties', async () => {
  const v1 = syntheticPackage('versions', 100_000, [2_500_000], 1);
  const v2 = syntheticPackage('versions', 100_000, [2_500_000], 2);
  const folder = mkdtempSync(join(tmpdir(), 'tar-pkg-'));
  try {
    for (const [path, bytes] of v1.files) {
      mkdirSync(dirname(join(folder, path)), { recursive: true });
      writeFileSync(join(folder, path), bytes);
    }
    let page = await openPage();
    await page.setInputFiles('#folder', folder);
    const local = await page.evaluate(() => window.storageTest.openPickedFolder({ chunkBytes: 64 * 1024, verify: true }));
    expect(local.error).toBeNull();
    expect(local.verified.every((v) => v.ok)).toBe(true);

    // The same version by URL: already cached (same model id and manifest), no weight request.
    const fromUrl = await openUrl(page, serve('v1', v1));
    expect(fromUrl.modelKey).toBe(local.modelKey);
    expect(weightRequests('v1')).toBe(0);
    const other = await openUrl(page, serve('v2', v2));
    expect(other.error).toBeNull();
    expect(other.modelKey).not.toBe(local.modelKey);
    expect(other.verified.every((v) => v.ok)).toBe(true);
    const again = await openUrl(page, serve('v1', v1));
    expect(again.verified.every((v) => v.ok)).toBe(true);

    const listed = await page.evaluate(() => window.storageTest.list());
    const versions = listed.filter((m) => m.modelId === 'versions');
    expect(versions).toHaveLength(2);
    expect(versions.every((m) => m.complete && m.storedBytes === m.totalBytes && m.totalBytes === v1.totalBytes)).toBe(true);

    const before = await page.evaluate(() => window.storageTest.estimate());
    await page.evaluate((k) => window.storageTest.remove(k), other.modelKey as string);
    expect((await page.evaluate(() => window.storageTest.list())).map((m) => m.modelKey)).not.toContain(other.modelKey);
    // Chromium frees a deleted blob's file once no page holds a handle to it: close the page that read them.
    await page.close();
    page = await openPage();
    let after = before;
    for (let i = 0; i < 50 && before.usage - after.usage < v2.totalBytes / 2; i++) {
      await page.waitForTimeout(200);
      after = await page.evaluate(() => window.storageTest.estimate());
    }
    test.info().annotations.push({ type: 'estimate usage', description: `${before.usage} → ${after.usage} after deleting ${v2.totalBytes} B` });
    expect(before.usage - after.usage).toBeGreaterThan(v2.totalBytes / 2);

    await page.evaluate(() => window.storageTest.clear());
    expect(await page.evaluate(() => window.storageTest.list())).toEqual([]);
    await page.close();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('an engine component loads from the cache: VqDecoder on the cached tiny package, zero weight requests', async () => {
  let page = await openPage();
  expect(await page.evaluate(() => window.storageTest.cacheTiny())).toBeGreaterThan(0);
  await page.close();
  page = await openPage();
  const result = await page.evaluate(() => window.storageTest.vqFromCache());
  expect(result.weightRequests).toBe(0);
  expect(result.pixels).toBeGreaterThan(0);
  expect(result.opaque).toBe(true);
  test.info().annotations.push({ type: 'VqDecoder from cache', description: `load ${result.loadMs.toFixed(0)} ms, decode ${result.decodeMs.toFixed(0)} ms` });
  await page.evaluate(() => window.storageTest.clear());
  await page.close();
});
