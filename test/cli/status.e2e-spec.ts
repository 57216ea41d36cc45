// `nestjs-cron-lock status` against the test Redis, after real runs by a Nest app.
import { Injectable } from '@nestjs/common';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  RedisLockStore,
  type LockContext,
} from 'nestjs-cron-lock';
import { newRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { REPO_ROOT } from '../support/fork-ts.js';
import { runCli } from './cli-process.js';

/** Never fires during the test: the test calls the methods (each call is a tick, locked). */
const YEARLY = '0 0 1 1 *';
const INSTANCE = 'cli-status-app';

@Injectable()
class StatusJobs {
  release!: () => void;
  private started!: () => void;
  readonly busyStarted = new Promise<void>((resolve) => (this.started = resolve));

  @LockedCron(YEARLY, { name: 'cli.done', ttl: '30s' })
  async done(): Promise<void> {}

  @LockedCron(YEARLY, { name: 'cli.failing', ttl: '30s' })
  async failing(): Promise<void> {
    throw new Error('upstream down');
  }

  @LockedCron(YEARLY, { name: 'cli.busy', ttl: '2m' })
  async busy(ctx: LockContext): Promise<void> {
    this.started();
    await new Promise<void>((resolve) => {
      this.release = resolve;
      ctx.signal.addEventListener('abort', () => resolve());
    });
  }
}

interface StatusJson {
  prefix: string;
  checkedAt: string;
  jobs: Array<Record<string, unknown> & { name: string }>;
}

describe('nestjs-cron-lock status', () => {
  const prefix = uniquePrefix('cli-status');
  let moduleRef: TestingModule;
  let jobs: StatusJobs;
  let busyRun: Promise<void>;
  let redis: Redis;
  let other: RedisLockStore;

  beforeAll(async () => {
    redis = newRedisClient();
    moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({
          redis: testRedisUrl(),
          keyPrefix: prefix,
          logger: false,
          instanceId: INSTANCE,
        }),
      ],
      providers: [StatusJobs],
    }).compile();
    await moduleRef.init();
    jobs = moduleRef.get(StatusJobs);
    // Scheduler ticks, which claim their occurrence (a direct call would be a manual run).
    const registry = moduleRef.get(SchedulerRegistry);
    await registry.getCronJob('cli.done').fireOnTick();
    await registry.getCronJob('cli.failing').fireOnTick();
    busyRun = registry.getCronJob('cli.busy').fireOnTick();
    await jobs.busyStarted;

    // Another app, whose prefix starts with this one's: never listed under this prefix.
    other = new RedisLockStore(testRedisUrl(), { keyPrefix: `${prefix}:sub`, logger: false });
    await other.acquire({
      name: 'cli.other',
      token: 'f'.repeat(32),
      ttl: 60_000,
      scheduledAt: Date.now(),
      instanceId: 'other-app',
    });
  });

  afterAll(async () => {
    jobs?.release?.();
    await busyRun;
    await moduleRef?.close();
    await other?.close();
    await redis?.quit();
  });

  it('is shown in docs/cli.md with the columns it prints, each explained', async () => {
    const run = await runCli(['status', '--redis', testRedisUrl(), '--prefix', prefix]);
    expect(run.code, run.stderr).toBe(0);
    const columns = run.stdout.split('\n')[0]!.trim().split(/ {2,}/);
    const guide = readFileSync(join(REPO_ROOT, 'docs/cli.md'), 'utf8');
    const section = guide.slice(
      guide.indexOf('## `status`'),
      guide.indexOf('\n## ', guide.indexOf('## `status`') + 1),
    );
    const example = section.split('\n').find((line) => line.startsWith('JOB '));
    expect(example?.trim().split(/ {2,}/)).toEqual(columns);
    // The column table names each column but the job's, without the unit in brackets.
    for (const column of columns.slice(1)) {
      expect(section, column).toContain(`| \`${column.replace(/ \(.*\)$/, '')}\``);
    }
  });

  it('prints a table of held and free jobs with their history', async () => {
    const run = await runCli(['status', '--redis', testRedisUrl(), '--prefix', prefix]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^JOB +STATE +HOLDER +TTL LEFT +LAST TICK \(UTC\) +LAST SUCCESS \(UTC, TOOK\) +FENCE +FAILS +NEXT \(UTC\)$/,
    );
    const rows = lines.slice(1, 4);
    const date = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';
    const next = `(?:${date}|-)`;
    // Sorted by name; the busy job is held by the app, with most of its 2 minutes left.
    expect(rows[0]).toMatch(
      new RegExp(
        `^cli\\.busy +held +${INSTANCE} +(1m[0-5]\\ds|2m00s) +${date} +- +\\d{16} +0 +${next}$`,
      ),
    );
    expect(rows[1]).toMatch(
      new RegExp(
        `^cli\\.done +free +- +- +${date} +${date} \\((\\d+ms|\\d+\\.\\ds)\\) +\\d{16} +0 +${next}$`,
      ),
    );
    expect(rows[2]).toMatch(
      new RegExp(`^cli\\.failing +free +- +- +${date} +- +\\d{16} +1 +${next}$`),
    );
    expect(lines[4]).toBe('');
    expect(lines[5]).toMatch(
      new RegExp(
        `^3 jobs \\(1 held\\) under prefix "${prefix}" at redis://127\\.0\\.0\\.1:\\d+, ${date} UTC$`,
      ),
    );
    expect(run.stdout).not.toContain('cli.other');
  });

  it('prints the same as inspect() as JSON with --json', async () => {
    const run = await runCli(['status', '--json', '--redis', testRedisUrl(), '--prefix', prefix]);
    expect(run.code, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout) as StatusJson;
    expect(json.prefix).toBe(prefix);
    expect(Math.abs(Date.parse(json.checkedAt) - Date.now())).toBeLessThan(60_000);
    expect(json.jobs.map((job) => job.name)).toEqual(['cli.busy', 'cli.done', 'cli.failing']);

    const inspected = await moduleRef.get(CronLockService).inspect();
    for (const job of json.jobs) {
      const state = inspected.find((entry) => entry.name === job.name)!;
      expect(job).toMatchObject({
        holder: state.holder,
        fencingToken: state.fencingToken,
        lastTick: state.lastTick?.toISOString() ?? null,
      });
    }
    const [busy, done, failing] = json.jobs;
    expect(busy).toMatchObject({
      held: true,
      holder: INSTANCE,
      lastSuccessAt: null,
      lastOutcome: null,
      consecutiveFailures: 0,
    });
    expect(busy.ttlLeft as number).toBeGreaterThan(60_000);
    expect(busy.ttlLeft as number).toBeLessThanOrEqual(120_000);
    expect(done).toMatchObject({
      held: false,
      holder: null,
      ttlLeft: null,
      lastOutcome: 'completed',
      consecutiveFailures: 0,
    });
    expect(Date.parse(done.lastSuccessAt as string)).toBeGreaterThan(Date.now() - 120_000);
    expect(done.lastFinishedAt).toBe(done.lastSuccessAt);
    expect(done.lastDurationMs).toEqual(expect.any(Number));
    expect(failing).toMatchObject({
      held: false,
      lastOutcome: 'failed',
      consecutiveFailures: 1,
      lastSuccessAt: null,
      lastDurationMs: null,
    });
    expect(failing.lastFinishedAt).toEqual(expect.any(String));
  });

  it('lists only the jobs of the prefix it is given', async () => {
    const sub = await runCli([
      'status',
      '--json',
      '--redis',
      testRedisUrl(),
      '--prefix',
      `${prefix}:sub`,
    ]);
    expect(sub.code, sub.stderr).toBe(0);
    const json = JSON.parse(sub.stdout) as StatusJson;
    expect(json.jobs).toEqual([
      expect.objectContaining({ name: 'cli.other', held: true, holder: 'other-app' }),
    ]);
    // Keys of the sub-prefix are really there, next to this prefix's ones.
    expect(await redis.exists(`${prefix}:sub:{cli.other}:state`)).toBe(1);
  });

  it('says so when the prefix has no jobs, and gives an empty list as JSON', async () => {
    const empty = uniquePrefix('cli-empty');
    const table = await runCli(['status', '--redis', testRedisUrl(), '--prefix', empty]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(`No jobs under prefix "${empty}"`);
    expect(table.stdout).toContain("it is the module's keyPrefix");
    const json = await runCli(['status', '--json', '--redis', testRedisUrl(), '--prefix', empty]);
    expect(JSON.parse(json.stdout)).toMatchObject({ prefix: empty, jobs: [] });
  });

  it('reads the Redis URL from REDIS_URL when --redis is not given', async () => {
    const run = await runCli(['status', '--prefix', prefix], {
      env: { REDIS_URL: testRedisUrl() },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^cli\.busy +held/m);
  });
});
