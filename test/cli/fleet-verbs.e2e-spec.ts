// `nestjs-cron-lock pause | resume | history` as a separate process against the test Redis.
import { afterEach, describe, expect, it } from 'vitest';
import { RedisLockStore } from 'nestjs-cron-lock';
import type { HistoryJson } from '../../lib/cli/history.command.js';
import type { StatusJson } from '../../lib/cli/status.command.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { runCli } from './cli-process.js';
import { recordRun } from './record-run.js';

describe('nestjs-cron-lock pause, resume and history on Redis', () => {
  const stores: RedisLockStore[] = [];

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  function storeOn(prefix: string): RedisLockStore {
    const store = new RedisLockStore(testRedisUrl(), { keyPrefix: prefix, logger: false });
    stores.push(store);
    return store;
  }

  it('pauses with a reason and an end, shows it in status, and resumes', async () => {
    const prefix = uniquePrefix('cli-pause');
    const store = storeOn(prefix);
    await store.registerJob('reports', { cron: '0 * * * *', timeZone: 'UTC' });
    const redis = ['--redis', testRedisUrl(), '--prefix', prefix];

    const paused = await runCli([
      'pause',
      'reports',
      ...redis,
      '--reason',
      'vendor outage',
      '--until',
      '2h',
      '--yes',
    ]);
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(
      /^Paused "reports" \(prefix "[^"]+"\) until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(reason: vendor outage\)\. Every instance skips it/,
    );
    const state = await store.inspect('reports');
    expect(state).toMatchObject({ paused: true, pauseReason: 'vendor outage' });
    expect(state.pausedUntil! - Date.now()).toBeGreaterThan(7_000_000);

    const status = await runCli(['status', ...redis, '--json']);
    const job = (JSON.parse(status.stdout) as StatusJson).jobs.find(
      (entry) => entry.name === 'reports',
    );
    expect(job).toMatchObject({ paused: true, pauseReason: 'vendor outage', cron: '0 * * * *' });
    const table = await runCli(['status', ...redis]);
    expect(table.stdout).toMatch(/^reports +free, paused until \d{4}-/m);

    const resumed = await runCli(['resume', 'reports', ...redis, '-y']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('Resumed "reports"');
    expect(await store.inspect('reports')).toMatchObject({ paused: false });
  });

  it('refuses to pause without --yes when stdin is not a terminal, and pauses nothing', async () => {
    const prefix = uniquePrefix('cli-pause');
    const store = storeOn(prefix);
    await store.registerJob('reports', { cron: '0 * * * *', timeZone: null });

    const run = await runCli(['pause', 'reports', '--redis', testRedisUrl(), '--prefix', prefix]);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Refusing to pause "reports" without confirmation');
    expect(await store.inspect('reports')).toMatchObject({ paused: false });
  });

  it('exits 1 naming the jobs there for an unknown job', async () => {
    const prefix = uniquePrefix('cli-pause');
    await storeOn(prefix).registerJob('reports', { cron: '0 * * * *', timeZone: null });

    const run = await runCli([
      'pause',
      'reprots',
      '--redis',
      testRedisUrl(),
      '--prefix',
      prefix,
      '--yes',
    ]);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('No job "reprots"');
    expect(run.stderr).toContain('jobs there: reports');
  });

  it('exits 1 naming the jobs there for the history of an unknown job, as text and as --json', async () => {
    const prefix = uniquePrefix('cli-history');
    await storeOn(prefix).registerJob('reports', { cron: '0 * * * *', timeZone: null });
    const redis = ['--redis', testRedisUrl(), '--prefix', prefix];

    const runs = await Promise.all([
      runCli(['history', 'reprots', ...redis]),
      runCli(['history', 'reprots', ...redis, '--json']),
    ]);

    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`No job "reprots" under prefix "${prefix}"`);
      expect(run.stderr).toContain('jobs there: reports');
    }
  });

  it('says a known job has no history yet, exit 0, as text and as --json', async () => {
    const prefix = uniquePrefix('cli-history');
    await storeOn(prefix).registerJob('reports', { cron: '0 * * * *', timeZone: null });
    const redis = ['--redis', testRedisUrl(), '--prefix', prefix];

    const [text, json] = await Promise.all([
      runCli(['history', 'reports', ...redis]),
      runCli(['history', 'reports', ...redis, '--json']),
    ]);

    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`No history of "reports" under prefix "${prefix}"`);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout) as HistoryJson).toMatchObject({ job: 'reports', entries: [] });
  });

  it('prints the history as a table and as JSON, newest first', async () => {
    const prefix = uniquePrefix('cli-history');
    const store = storeOn(prefix);
    const first = await recordRun(store, 'sync', 'w-1');
    const redis = ['--redis', testRedisUrl(), '--prefix', prefix];

    const json = await runCli(['history', 'sync', ...redis, '--json', '--limit', '5']);
    expect(json.code).toBe(0);
    const history = JSON.parse(json.stdout) as HistoryJson;
    expect(history).toMatchObject({ job: 'sync', prefix });
    expect(history.entries).toHaveLength(1);
    expect(history.entries[0]).toMatchObject({
      kind: 'run',
      instanceId: 'w-1',
      fencingToken: first,
      outcome: 'completed',
      trigger: 'schedule',
      durationMs: 12,
    });
    expect(history.entries[0].scheduledAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);

    const table = await runCli(['history', 'sync', ...redis]);
    expect(table.stdout).toMatch(/^SCHEDULED \(UTC\) +KIND +OUTCOME +INSTANCE +TRIGGER/);
    expect(table.stdout).toMatch(/ run +completed +w-1 +schedule /);
  });
});
