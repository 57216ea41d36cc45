// `nestjs-cron-lock trigger` across processes: three forked workers whose job is scheduled once a
// year; the CLI (a fourth process) triggers it, and it runs exactly once, on one of them, as a
// manual run. With the workers gone, the CLI says no live instance has the job. On Redis and on
// PostgreSQL.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { runCli } from '../cli/cli-process.js';
import { testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { FaultCluster } from './support/cluster.js';
import { FAULT_JOB } from './support/records.js';

const YEARLY = '0 0 1 1 *';

describe('trigger across processes', { timeout: 300_000 }, () => {
  let cluster: FaultCluster | null = null;

  afterEach(async () => {
    await cluster?.stop();
    cluster?.cleanup(false);
    cluster = null;
  });

  async function proveTrigger(
    storeArgs: string[],
    env: Record<string, string>,
    workerEnv: Record<string, string>,
    keyPrefix: string,
  ): Promise<void> {
    const fleet = new FaultCluster();
    cluster = fleet;
    for (const instance of ['w1', 'w2', 'w3']) {
      fleet.spawn({
        instance,
        redisUrl: testRedisUrl(),
        keyPrefix,
        cron: YEARLY,
        ttlMs: 10_000,
        jobMs: 50,
        seed: 1,
        env: workerEnv,
      });
    }
    await fleet.ready();

    const run = await runCli(['trigger', FAULT_JOB, ...storeArgs, '--yes', '--wait', '--json'], {
      env,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as TriggerJson;
    expect(result).toMatchObject({ ran: true, outcome: 'completed' });
    const starts = fleet.recordsOf('start');
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({
      instance: result.instanceId,
      fencingToken: result.fencingToken,
    });

    await fleet.stop();
    const none = await runCli(['trigger', FAULT_JOB, ...storeArgs, '--yes', '--json'], { env });
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({ ran: false, reason: 'no-live-instance' });
    expect(fleet.recordsOf('start')).toHaveLength(1);
  }

  it('on Redis: runs a yearly job exactly once on one of three workers, and says no live instance with none', async () => {
    const keyPrefix = uniquePrefix('trigger-processes');
    await proveTrigger(['--redis', testRedisUrl(), '--prefix', keyPrefix], {}, {}, keyPrefix);
  });

  it('on PostgreSQL: runs a yearly job exactly once on one of three workers, and says no live instance with none', async () => {
    const table = uniqueTable('trigger_processes');
    try {
      await proveTrigger(
        ['--table', table],
        { DATABASE_URL: testPostgresUrl() },
        { FAULT_DATABASE_URL: testPostgresUrl(), FAULT_PG_TABLE: table },
        uniquePrefix('unused'),
      );
    } finally {
      const admin = new pg.Client({ connectionString: testPostgresUrl() });
      await admin.connect();
      await admin.query(`DROP TABLE IF EXISTS public.${table}`).finally(() => admin.end());
    }
  });
});
