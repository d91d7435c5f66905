// Test tiers: `unit` runs pure logic in Node; `gpu` runs kernels on the real WebGPU of headless Chromium
// (SwiftShader on machines without a GPU) through pages served by the Vite dev server; `e2e` drives the app
// pages (demo, chat, PWA, web components) in the same browser.
import { defineConfig } from '@playwright/test';
import { chromiumArgs, chromiumPath } from './scripts/browser.mjs';

const port = Number(process.env.TEST_PORT ?? 5183);

export default defineConfig({
  testDir: 'tests',
  timeout: 120_000,
  // On CI a failed test runs once more in a fresh browser: software WebGPU (SwiftShader in one GPU process for
  // every page and worker) has stalled a test once in many runs. A test that passes only on its retry is named
  // by the summary reporter, so it is seen, not hidden; a real failure fails twice.
  retries: process.env.CI ? 1 : 0,
  workers: 1,
  fullyParallel: false,
  reporter: [['list'], ['./tests/summary-reporter.ts']],
  projects: [
    { name: 'unit', testDir: 'tests/unit' },
    { name: 'parity', testDir: 'tests/parity' },
    {
      name: 'gpu',
      testDir: 'tests/gpu',
      use: {
        baseURL: `http://localhost:${port}`,
        launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
      },
    },
    {
      name: 'e2e',
      testDir: 'tests/e2e',
      use: {
        baseURL: `http://localhost:${port}`,
        launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
      },
    },
  ],
  webServer: {
    command: `npx vite --port ${port} --strictPort`,
    url: `http://localhost:${port}/tests/gpu/harness.html`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
