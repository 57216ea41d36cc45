// Tooling that reads @nestjs/schedule's metadata of a method (outside any app, e.g. to list the
// jobs of a codebase) reads the same options under @LockedCron as under @Cron, and nothing
// throws (issue: a getter threw CronLockConfigError when the metadata was spread).
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
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
