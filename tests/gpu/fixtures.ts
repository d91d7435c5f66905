// Playwright fixture: one harness page per test worker (pipelines compiled once are reused across tests).
import { test as base, expect, type Page } from '@playwright/test';

export const test = base.extend<object, { harnessPage: Page }>({
  harnessPage: [
    async ({ browser }, use) => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto('/tests/gpu/harness.html');
      await page.waitForSelector('body[data-ready="true"]');
      await use(page);
      await page.close();
      expect(errors, 'uncaught errors in the harness page').toEqual([]);
    },
    { scope: 'worker' },
  ],
});

export { expect };
