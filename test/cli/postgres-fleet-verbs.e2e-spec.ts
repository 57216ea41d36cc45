// `nestjs-cron-lock pause | resume | trigger | history --database …` as a separate process, with
// the instances (Nest apps, each with its own PostgresLockStore) in this process.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, LockedCron, type LockContext } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import type { HistoryJson } from '../../lib/cli/history.command.js';
import type { TriggerJson } from '../../lib/cli/trigger.command.js';
import { testPostgresUrl, uniqueTable } from '../support/postgres.js';
import { runCli } from './cli-process.js';

const runs: Array<{ instanceId: string; trigger: string }> = [];

@Injectable()
class YearlyJob {
  @LockedCron('0 0 1 1 *', { name: 'pg-cli-yearly', ttl: '10s' })
  async report(ctx: LockContext): Promise<void> {
    runs.push({ instanceId: ctx.instanceId, trigger: ctx.trigger });
  }
}

describe('nestjs-cron-lock fleet commands against PostgreSQL', () => {
  const modules: TestingModule[] = [];
  const stores: PostgresLockStore[] = [];

  afterEach(async () => {
    await Promise.all(modules.splice(0).map((module) => module.close()));
    await Promise.all(stores.splice(0).map((store) => store.close()));
    runs.length = 0;
  });

  it('exits 1 saying no live instance has the job on this table when none runs', async () => {
    // The table exists (an app created it), but no app with the job is up.
    const table = uniqueTable('cli-none');
    const store = new PostgresLockStore(testPostgresUrl(), { table, logger: false });
    stores.push(store);
    await store.inspect('pg-cli-none');
    const run = await runCli(['trigger', 'pg-cli-none', '--table', table, '--yes'], {
      env: { DATABASE_URL: testPostgresUrl() },
    });

    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    // The jobs of a PostgreSQL store live in a table: a key prefix is Redis' word.
    expect(run.stdout).toContain('"pg-cli-none" did not run: no live instance has this job');
    expect(run.stdout).toContain('running on this table?');
    expect(run.stdout).not.toContain('prefix');
  });

  it('triggers a run on one of three instances, pauses, refuses a paused trigger, resumes, and shows the history', async () => {
    const table = uniqueTable('cli-fleet');
    for (const instanceId of ['p-1', 'p-2', 'p-3']) {
      const store = new PostgresLockStore(testPostgresUrl(), { table, logger: false });
      stores.push(store);
      const module = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          CronLockModule.forRoot({ store, instanceId, logger: false }),
        ],
        providers: [YearlyJob],
      }).compile();
      modules.push(module);
      await module.init();
    }
    const database = ['--table', table];
    // DATABASE_URL, not --database: a password on the command line is warned about.
    const cli = (args: string[]) => runCli(args, { env: { DATABASE_URL: testPostgresUrl() } });

    const triggered = await cli([
      'trigger',
      'pg-cli-yearly',
      ...database,
      '--yes',
      '--wait',
      '--json',
    ]);
    expect(triggered.stderr).toBe('');
    expect(triggered.code).toBe(0);
    const result = JSON.parse(triggered.stdout) as TriggerJson;
    expect(result).toMatchObject({ ran: true, outcome: 'completed' });
    expect(runs).toEqual([{ instanceId: result.instanceId, trigger: 'manual' }]);

    const paused = await cli(['pause', 'pg-cli-yearly', ...database, '--reason', 'audit', '--yes']);
    expect(paused.code).toBe(0);
    const refused = await cli(['trigger', 'pg-cli-yearly', ...database, '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('"pg-cli-yearly" did not run: it is paused');
    const resumed = await cli(['resume', 'pg-cli-yearly', ...database, '--yes']);
    expect(resumed.code).toBe(0);
    expect(await stores[0].inspect('pg-cli-yearly')).toMatchObject({ paused: false });

    const history = await cli(['history', 'pg-cli-yearly', ...database, '--json']);
    expect(history.code).toBe(0);
    const entries = (JSON.parse(history.stdout) as HistoryJson).entries;
    expect(entries.filter((entry) => entry.kind === 'run')).toEqual([
      expect.objectContaining({
        instanceId: result.instanceId,
        trigger: 'manual',
        outcome: 'completed',
        fencingToken: result.fencingToken,
      }),
    ]);
    expect(runs).toHaveLength(1);
  });
});
