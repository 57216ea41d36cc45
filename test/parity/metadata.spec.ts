// Tooling that reads @nestjs/schedule's metadata of a method (outside any app, e.g. to list the
// jobs of a codebase) reads the same options under @LockedCron as under @Cron, and nothing
// throws (issue: a getter threw CronLockConfigError when the metadata was spread).
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { CronLockConfigError, LockedCron } from 'nestjs-cron-lock';
import { CRON, LOCKED_CRON, type Variant } from './support.js';

/** @nestjs/schedule's metadata key of @Cron options (not exported by the package). */
const SCHEDULE_CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';

function metadataOf(variant: Variant): Record<string, unknown> {
  @Injectable()
  class Listed {
    @variant.decorate('0 0 * * *', { name: 'listed', timeZone: 'Europe/Paris', threshold: 500 })
    async nightly(): Promise<void> {}
  }
  return Reflect.getMetadata(SCHEDULE_CRON_OPTIONS, Listed.prototype.nightly) as Record<
    string,
    unknown
  >;
}

describe('@nestjs/schedule metadata of a @LockedCron method', () => {
  it('can be spread, serialised and read outside any app', () => {
    const metadata = metadataOf(LOCKED_CRON);
    expect(() => ({ ...metadata })).not.toThrow();
    expect(() => JSON.stringify(metadata)).not.toThrow();
    expect(metadata.cronTime).toBe('0 0 * * *');
  });

  it('holds what @Cron writes', () => {
    const { onComplete: _marker, ...locked } = { ...metadataOf(LOCKED_CRON) };
    expect(locked).toEqual({ ...metadataOf(CRON) });
  });
});

describe('an app with @LockedCron but without CronLockModule', () => {
  it.each([{}, { disabled: true }, { initialDelay: 1_000 }])(
    'still fails at bootstrap, naming the job and the fix, with %j',
    async (options) => {
      @Injectable()
      class Orphan {
        @LockedCron('0 0 1 1 *', options)
        async work(): Promise<void> {}
      }
      const ref = await Test.createTestingModule({
        imports: [ScheduleModule.forRoot()],
        providers: [Orphan],
      }).compile();
      const error = await ref.init().then(
        () => null,
        (caught: unknown) => caught,
      );
      await ref.close().catch(() => undefined);
      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toContain('Orphan.work');
      expect((error as Error).message).toContain('Fix: add CronLockModule.forRoot');
    },
  );
});
