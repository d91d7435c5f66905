// A Playwright reporter that ends the run with the plain line "N passed, N failed, N skipped", which CI
// reads to know that tests ran. Flaky tests (passed on retry) count as passed and are named on a line before it.
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  /** Each test that ended, by id (a retry replaces its first run); outcome and title are read at the end. */
  private readonly tests = new Map<string, TestCase>();

  onTestEnd(test: TestCase, _result: TestResult): void {
    this.tests.set(test.id, test);
  }

  onEnd(_result: FullResult): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const test of this.tests.values()) {
      const outcome = test.outcome();
      if (outcome === 'flaky') console.log(`flaky (passed on retry): ${test.titlePath().filter(Boolean).join(' › ')}`);
      if (outcome === 'expected' || outcome === 'flaky') passed++;
      else if (outcome === 'skipped') skipped++;
      else failed++;
    }
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  }

  printsToStdio(): boolean {
    return false;
  }
}
