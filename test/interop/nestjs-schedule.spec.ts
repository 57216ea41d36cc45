import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Cron, Interval } from '@nestjs/schedule';
import { LockedCron } from 'nestjs-cron-lock';
import { describe, expect, it } from 'vitest';
import { readCronOptions, readIntervalOptions } from '../../lib/interop/nestjs-schedule.js';

const version = (
  createRequire(import.meta.url)('@nestjs/schedule/package.json') as { version: string }
).version;

class Jobs {
  @Cron('*/5 * * * * *', { name: 'n', timeZone: 'UTC' })
  a(): void {}

  @Interval(1500)
  b(): void {}

  @LockedCron('*/7 * * * * *', { name: 'locked-job' })
  c(): void {}
}

describe('what is read from @nestjs/schedule', () => {
  const where = `@nestjs/schedule ${version} moved its metadata: update lib/interop/nestjs-schedule.ts`;

  it(`reads what @nestjs/schedule ${version} keeps for @Cron and @Interval`, () => {
    expect(readCronOptions(Jobs.prototype.a), where).toMatchObject({
      cronTime: '*/5 * * * * *',
      name: 'n',
      timeZone: 'UTC',
    });
    expect(readIntervalOptions(Jobs.prototype.b), where).toMatchObject({ timeout: 1500 });
  });

  it('finds the cronTime that @LockedCron registers through @Cron', () => {
    expect(readCronOptions(Jobs.prototype.c), where).toMatchObject({ cronTime: '*/7 * * * * *' });
  });
});
