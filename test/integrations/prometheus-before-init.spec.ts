// Reading CronLockMetrics.metrics before app.init() fails with the package's typed error, which
// names the API and the fix, as every error a user can hit does.
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockError,
  CronLockModule,
  MemoryLockStore,
} from 'nestjs-cron-lock';
import { CronLockMetrics, CronLockPrometheusModule } from 'nestjs-cron-lock/prometheus';

describe('CronLockMetrics.metrics before app.init()', () => {
  it('throws a CronLockConfigError naming app.init() and the fix', async () => {
    const app = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({ logger: false, store: new MemoryLockStore() }),
        CronLockPrometheusModule.forRoot({ registry: new Registry() }),
      ],
    }).compile();
    try {
      const recorder = app.get(CronLockMetrics);
      let thrown: unknown;
      try {
        void recorder.metrics;
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(CronLockConfigError);
      expect(thrown).toBeInstanceOf(CronLockError);
      expect((thrown as Error).message).toContain('CronLockMetrics.metrics');
      expect((thrown as Error).message).toContain('app.init()');
      expect((thrown as Error).message).toContain('Fix:');

      await app.init();
      expect(recorder.metrics.skips).toBeDefined();
    } finally {
      await app.close();
    }
  });
});
