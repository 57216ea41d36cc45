// The health check's timeout goes to a timer: past 2^31-1 ms Node would fire it at once, and
// every check would report the store as not answering.
import { CronLockConfigError, type Duration } from 'nestjs-cron-lock';
import { describe, expect, it } from 'vitest';
import { resolveHealthCheckOptions } from '../../lib/terminus/cron-lock-health.options.js';

describe('resolveHealthCheckOptions', () => {
  it.each<Duration>(['25d', 2 ** 31])(
    'rejects a timeout of %j, past what a timer holds, naming the limit',
    (timeout) => {
      let caught: unknown;
      try {
        resolveHealthCheckOptions({ timeout });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CronLockConfigError);
      expect((caught as Error).message).toContain('CronLockHealthIndicator.isHealthy');
      expect((caught as Error).message).toContain('timeout');
      expect((caught as Error).message).toContain('2147483647ms');
      expect((caught as Error).message).toContain('Fix:');
    },
  );

  it('accepts the longest timeout a timer holds', () => {
    expect(resolveHealthCheckOptions({ timeout: 2 ** 31 - 1 }).timeoutMs).toBe(2 ** 31 - 1);
  });
});
