// A Playwright reporter that ends the run with the plain line "N passed, N failed, N skipped", which CI
// reads to know that tests ran. Flaky tests (passed on retry) count as passed and are named on a line before it.
import type { FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  private readonly outcomes = new Map<string, ReturnType<TestCase['outcome']>>();
  private readonly titles = new Map<string, string>();

  onTestEnd(test: TestCase, _result: TestResult): void {
    this.outcomes.set(test.id, test.outcome());
    this.titles.set(test.id, test.titlePath().filter(Boolean).join(' › '));
  }

  onEnd(_result: FullResult): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const [id, outcome] of this.outcomes) {
      if (outcome === 'flaky') console.log(`flaky (passed on retry): ${this.titles.get(id)}`);
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
