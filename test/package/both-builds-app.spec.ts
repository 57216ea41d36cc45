// One process that loads both builds of the packed package: an ES module app whose CommonJS
// dependency (a shared library of jobs, or of platform modules) requires the package. The tarball
// is unpacked outside the repository, its peers linked from the repository's node_modules, and
// the app runs against a real Redis.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/fork-ts.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { packInto } from './support/pack.js';

const run = promisify(execFile);

/** A CommonJS library as `tsc` compiles it: decorators applied with `Reflect.decorate`. */
const JOBS_LIBRARY = `"use strict";
require('reflect-metadata');
const { Injectable, Module } = require('@nestjs/common');
const locks = require('nestjs-cron-lock');
const { CronLockModule, CronLockService, LockedCron } = locks;

class ReportsJob {
  constructor(locks) { this.locks = locks; }
  async hourly(ctx) { return ctx.fencingToken; }
}
Reflect.decorate([LockedCron('0 * * * *', '5m')], ReportsJob.prototype, 'hourly',
  Object.getOwnPropertyDescriptor(ReportsJob.prototype, 'hourly'));
Reflect.defineMetadata('design:paramtypes', [CronLockService], ReportsJob);
Reflect.decorate([Injectable()], ReportsJob);

class JobsModule {}
Reflect.decorate([Module({ providers: [ReportsJob], exports: [ReportsJob] })], JobsModule);

/** A platform module that sets the lock module up for every app of a team. */
function platformLocks(redis) {
  return CronLockModule.forRoot({ redis, instanceId: 'platform' });
}
/** The same, registered as the library loads, as a module of its own. */
class PlatformModule {}
Reflect.decorate(
  [Module({ imports: [CronLockModule.forRoot({ redis: process.env.REDIS_URL, instanceId: 'loaded' })] })],
  PlatformModule,
);

/** The lock store a team's platform library builds from its own settings. */
function platformStore(redis) {
  return new locks.RedisLockStore(redis, { logger: false });
}

/** Which of the package's error classes \`error\` is an instance of, as the library sees it. */
function errorClasses(error) {
  return ['CronLockError', 'CronLockConfigError', 'LockStoreError', 'ScheduledAtRefusedError']
    .filter((name) => error instanceof locks[name]);
}
module.exports = {
  JobsModule, PlatformModule, ReportsJob, errorClasses, platformLocks, platformStore,
};
`;

describe('an ES module app with a CommonJS dependency on the package', () => {
  let workDir = '';
  let appDir = '';
  let redis: RedisServerHandle | undefined;

  /** Runs `script` (an ES module) in the app; what it prints last on stdout, as JSON. */
  async function runApp(name: string, script: string): Promise<Record<string, unknown>> {
    await writeFile(join(appDir, name), script);
    const { stdout } = await run(process.execPath, [name], {
      cwd: appDir,
      env: { ...process.env, REDIS_URL: redis!.url, NO_COLOR: '1' },
      timeout: 120_000,
    }).catch((error: { stdout?: string; stderr?: string }) => ({
      stdout: `${error.stdout ?? ''}\n${JSON.stringify({ failed: error.stderr ?? String(error) })}`,
    }));
    const lines = stdout.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    workDir = await mkdtemp(join(tmpdir(), 'cron-lock-both-builds-'));
    const tarball = await packInto(workDir);
    appDir = join(workDir, 'app');
    const modules = join(appDir, 'node_modules');
    const installed = join(modules, 'nestjs-cron-lock');
    await mkdir(installed, { recursive: true });
    await run('tar', ['xzf', tarball, '-C', installed, '--strip-components=1']);
    // The peers, as an app installs them: one copy each, the repository's.
    for (const entry of await readdir(join(REPO_ROOT, 'node_modules'))) {
      if (entry === 'nestjs-cron-lock' || entry.startsWith('.')) continue;
      await symlink(join(REPO_ROOT, 'node_modules', entry), join(modules, entry));
    }
    await mkdir(join(modules, 'jobs-library'));
    await writeFile(
      join(modules, 'jobs-library', 'package.json'),
      '{ "name": "jobs-library", "main": "index.js" }\n',
    );
    await writeFile(join(modules, 'jobs-library', 'index.js'), JOBS_LIBRARY);
    await writeFile(
      join(appDir, 'package.json'),
      '{ "name": "app", "private": true, "type": "module" }\n',
    );
  }, 600_000);

  afterAll(async () => {
    await redis?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("gives the library's CronLockService the app's, and the app's the library's module", async () => {
    // Left: the app registers the module, the library injects CronLockService of the CommonJS
    // build. Right: the library registers it, the app injects CronLockService of the ES build.
    const outcome = await runApp(
      'service-across-builds.mjs',
      `import 'reflect-metadata';
      import { Injectable, Module } from '@nestjs/common';
      import { NestFactory } from '@nestjs/core';
      import { ScheduleModule } from '@nestjs/schedule';
      import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
      import { JobsModule, ReportsJob, platformLocks } from 'jobs-library';

      async function boot(locks) {
        class AppModule {}
        Reflect.decorate(
          [Module({ imports: [ScheduleModule.forRoot(), locks, JobsModule], providers: [AppJob] })],
          AppModule,
        );
        const app = await NestFactory.createApplicationContext(AppModule, {
          logger: false,
          abortOnError: false,
        });
        try {
          const job = app.get(ReportsJob);
          const own = app.get(AppJob);
          const result = await job.locks.run('adhoc', { ttl: '1m' }, async (ctx) => ctx.fencingToken);
          const state = await own.locks.inspect('ReportsJob.hourly');
          const ran = result.ran && result.value > 0;
          return { same: job.locks === own.locks, ran, bound: state.name };
        } finally {
          await app.close();
        }
      }
      class AppJob {
        constructor(locks) { this.locks = locks; }
      }
      Reflect.defineMetadata('design:paramtypes', [CronLockService], AppJob);
      Reflect.decorate([Injectable()], AppJob);

      const outcome = {};
      for (const [side, locks] of [
        ['appModule', CronLockModule.forRoot({ redis: process.env.REDIS_URL })],
        ['libraryModule', platformLocks(process.env.REDIS_URL)],
      ]) {
        outcome[side] = await boot(locks).catch((error) => error.message.split('\\n')[0]);
      }
      console.log(JSON.stringify(outcome));`,
    );
    const works = { same: true, ran: true, bound: 'ReportsJob.hourly' };
    expect(outcome).toEqual({ appModule: works, libraryModule: works });
  }, 180_000);

  it("gives the app's CronLockService a module the library registered before the app loaded the package", async () => {
    // The library is imported first: its CronLockModule.forRoot() runs before the ES module
    // build is loaded at all.
    const outcome = await runApp(
      'library-first.mjs',
      `import { PlatformModule } from 'jobs-library';
      import { Injectable, Module } from '@nestjs/common';
      import { NestFactory } from '@nestjs/core';
      import { CronLockService } from 'nestjs-cron-lock';

      class AppJob {
        constructor(locks) { this.locks = locks; }
      }
      Reflect.defineMetadata('design:paramtypes', [CronLockService], AppJob);
      Reflect.decorate([Injectable()], AppJob);
      class AppModule {}
      Reflect.decorate([Module({ imports: [PlatformModule], providers: [AppJob] })], AppModule);
      try {
        const app = await NestFactory.createApplicationContext(AppModule, {
          logger: false,
          abortOnError: false,
        });
        const result = await app.get(AppJob).locks.run('adhoc', { ttl: '1m' }, async () => 'done');
        await app.close();
        console.log(JSON.stringify({ ran: result.ran, instanceId: result.ran && result.ctx.instanceId }));
      } catch (error) {
        console.log(JSON.stringify({ failed: error.message.split('\\n')[0] }));
      }`,
    );
    expect(outcome).toEqual({ ran: true, instanceId: 'loaded' });
  }, 180_000);

  it("recognises the other build's errors, and skips an occurrence a store of the other build refuses", async () => {
    // The library's store refuses an occurrence two hours ahead of its clock (a wrong clock on
    // this instance): with onStoreError 'run' it must still be skipped, not run unlocked on every
    // instance as wrong; and the errors each build throws are the other build's classes too.
    const outcome = await runApp(
      'errors-across-builds.mjs',
      `import 'reflect-metadata';
      import { Module } from '@nestjs/common';
      import { NestFactory } from '@nestjs/core';
      import * as esm from 'nestjs-cron-lock';
      import { errorClasses, platformStore } from 'jobs-library';

      const store = platformStore(process.env.REDIS_URL);
      class AppModule {}
      Reflect.decorate(
        [Module({ imports: [esm.CronLockModule.forRoot({ store, onStoreError: 'run' })] })],
        AppModule,
      );
      const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
      const service = app.get(esm.CronLockService);
      let ran = false;
      const ahead = await service.run(
        'nightly',
        { ttl: '1m', scheduledAt: Date.now() + 2 * 3_600_000 },
        async () => { ran = true; },
      );
      const refusal = await store
        .acquire({
          name: 'nightly',
          token: 'a'.repeat(32),
          ttl: 60_000,
          scheduledAt: Date.now() + 2 * 3_600_000,
          instanceId: 'app',
        })
        .catch((error) => error);
      const config = await service.run('nightly', { ttl: 'soon' }, async () => {}).catch((e) => e);
      await app.close();
      await store.close();
      console.log(JSON.stringify({
        ran,
        skipped: ahead.ran ? 'ran' : ahead.reason,
        esmSeesRefusal: ['CronLockError', 'LockStoreError', 'ScheduledAtRefusedError']
          .filter((name) => refusal instanceof esm[name]),
        librarySeesConfig: errorClasses(config),
      }));`,
    );
    expect(outcome).toEqual({
      ran: false,
      skipped: 'store-error',
      esmSeesRefusal: ['CronLockError', 'LockStoreError', 'ScheduledAtRefusedError'],
      librarySeesConfig: ['CronLockError', 'CronLockConfigError'],
    });
  }, 180_000);
});
