// What the metrics and the event docs say about skip reasons matches what the module sends: the
// skips counter's help text names every reason, and the usage guide says which `skipped` events
// carry `acquireMs` (every refusal the store answered, not only `held` and `tick-done`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { SkipReason } from '../../lib/observer/events.js';
import { resolvePrometheusOptions } from '../../lib/prometheus/cron-lock-prometheus.options.js';
import { registerCronLockMetrics } from '../../lib/prometheus/cron-lock.metrics.js';
import type { AcquireRefusal } from '../../lib/stores/lock-store.interface.js';
import { REPO_ROOT } from '../support/fork-ts.js';
import { SKIP_REASONS } from '../../lib/observer/events.js';

/** The refusals of an answered acquisition: the runner passes the round trip with each. */
const REFUSALS = Object.keys({
  held: true,
  'tick-done': true,
  paused: true,
  queued: true,
  merged: true,
} satisfies Record<AcquireRefusal, true>);

describe('skip reasons in the metrics and the docs', () => {
  it('names every skip reason in the help text of skips_total', async () => {
    const registry = new Registry();
    const { unregister } = registerCronLockMetrics(
      resolvePrometheusOptions({ registry }),
      () => [],
      new Set(),
    );
    try {
      const help = (await registry.getSingleMetricAsString('cron_lock_skips_total'))
        .split('\n')
        .find((line) => line.startsWith('# HELP'));
      for (const reason of SKIP_REASONS) {
        expect(help, reason).toContain(reason);
      }
    } finally {
      unregister();
    }
  });

  it('says in the usage guide that skipped carries acquireMs for every answered refusal', () => {
    const usage = readFileSync(join(REPO_ROOT, 'docs/usage.md'), 'utf8').replace(/\s+/g, ' ');
    const start = usage.indexOf('`skipped` also has `acquireMs`');
    expect(start).toBeGreaterThan(-1);
    const sentence = usage.slice(start, usage.indexOf('. ', start));
    for (const reason of [...REFUSALS, 'shutting-down']) {
      expect(sentence, reason).toContain(`\`${reason}\``);
    }
    // A store error has no answer, so no round trip to report.
    expect(sentence).toContain('never for `store-error`');
  });
});

/**
 * What `CronLockService.run()` can answer (true), and the reasons of a job's `overlap` policy,
 * which a `run()` does not take (false). A record: a reason added to the type must be placed here.
 */
const RUN_ANSWERS = {
  held: true,
  'tick-done': true,
  paused: true,
  'store-error': true,
  'shutting-down': true,
  queued: false,
  merged: false,
} satisfies Record<SkipReason, boolean>;

describe("the skip reasons in CronLockService.run()'s JSDoc", () => {
  it('lists every reason run() answers, and says why it never answers queued or merged', () => {
    const source = readFileSync(join(REPO_ROOT, 'lib/cron-lock.service.ts'), 'utf8');
    const signature = source.indexOf('  run<T>(');
    expect(signature).toBeGreaterThan(-1);
    const jsdoc = source.slice(source.lastIndexOf('/**', signature), signature);
    const returns = jsdoc.slice(jsdoc.indexOf('@returns'), jsdoc.indexOf('@throws'));
    expect(returns.length).toBeGreaterThan(0);
    for (const [reason, answered] of Object.entries(RUN_ANSWERS)) {
      expect(returns, reason).toContain(`\`${reason}\``);
      if (!answered) {
        expect(returns.replace(/\s+\*\s*/g, ' '), reason).toMatch(/never .*overlap/);
      }
    }
  });
});
