import { writeSync } from 'node:fs';
import type { Reporter, TestModule, TestRunEndReason, Vitest } from 'vitest/node';

/**
 * Prints one machine-readable line as the very last output of a run:
 *
 *   N passed, N failed            (", N skipped" appended only when N > 0)
 *
 * Counts are of test cases. Errors outside of test cases — a test file that fails to load, a
 * failing beforeAll/afterAll, an unhandled error, a failing globalSetup — each add one to
 * "failed", so a broken run can never read as "0 failed". Skipped and todo tests count as skipped.
 *
 * In `vitest run` the line is written when the process exits, so that it stays last even when
 * Vitest prints errors after the run; in watch mode it is printed after every run.
 */
export default class SummaryReporter implements Reporter {
  private watch = false;
  private line: string | undefined;
  private exitHookInstalled = false;

  onInit(vitest: Vitest): void {
    this.watch = vitest.config.watch;
  }

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<unknown>,
    reason: TestRunEndReason,
  ): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++; // 'skipped', or 'pending' (never ran)
      }
      failed += mod.errors().length;
      for (const suite of mod.children.allSuites()) failed += suite.errors().length;
    }
    if (reason !== 'passed' && failed === 0) failed = 1;
    this.line = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;

    if (this.watch) {
      process.stdout.write(`\n${this.line}\n`);
    } else if (!this.exitHookInstalled) {
      this.exitHookInstalled = true;
      process.once('exit', () => {
        if (this.line !== undefined) writeSync(process.stdout.fd, `\n${this.line}\n`);
      });
    }
  }
}
