// The parity suite runs every scenario twice, once with @nestjs/schedule's @Cron and once with
// @LockedCron on the testing module's in-memory store, and expects the same observable result
// except where docs/switching-from-cron.md lists a difference.
import type { DynamicModule, LoggerService, Provider, Type } from '@nestjs/common';
import { Cron, ScheduleModule, type CronOptions } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import type { CronJobParams } from 'cron';
import { LockedCron, MemoryLockStore } from 'nestjs-cron-lock';
import { CronLockTestingModule, type CronLockTestingOptions } from 'nestjs-cron-lock/testing';

/** How an app of the suite is booted. */
export interface BootOptions {
  logger?: LoggerService;
  store?: MemoryLockStore;
  /** More options of the testing module (@LockedCron only). */
  lock?: Omit<CronLockTestingOptions, 'store' | 'logger'>;
}

/** What a scheduled method may be given, as `@Cron` types it: an expression, a `Date` or a luxon `DateTime`. */
export type CronTimeInput = CronJobParams['cronTime'];

export interface Variant {
  label: '@Cron' | '@LockedCron';
  locked: boolean;
  /** The decorator under test, with @Cron's signature. */
  decorate(cronTime: CronTimeInput, options?: CronOptions): MethodDecorator;
  /** The modules an app using it imports. */
  imports(options?: BootOptions): DynamicModule[];
}

export const CRON: Variant = {
  label: '@Cron',
  locked: false,
  decorate: (cronTime, options) => Cron(cronTime, options),
  imports: () => [ScheduleModule.forRoot()],
};

export const LOCKED_CRON: Variant = {
  label: '@LockedCron',
  locked: true,
  decorate: (cronTime, options) => LockedCron(cronTime, options),
  imports: ({ logger, store, lock } = {}) => [
    ScheduleModule.forRoot(),
    CronLockTestingModule.forRoot({
      ...lock,
      store: store ?? new MemoryLockStore(),
      ...(logger ? { logger } : {}),
    }),
  ],
};

/** Both decorators, for `describe.each(VARIANTS)('with %s', (_label, variant) => ...)`. */
export const VARIANTS: [string, Variant][] = [
  [CRON.label, CRON],
  [LOCKED_CRON.label, LOCKED_CRON],
];

const open: TestingModule[] = [];

/** Boots an app with `providers` and the variant's modules; closed by {@link closeAll}. */
export async function bootWith(
  variant: Variant,
  providers: (Type | Provider)[],
  options: BootOptions = {},
): Promise<TestingModule> {
  const ref = await Test.createTestingModule({
    imports: variant.imports(options),
    providers,
  }).compile();
  if (options.logger) {
    ref.useLogger(options.logger);
  }
  open.push(ref);
  await ref.init();
  return ref;
}

/** What booting rejected with, or a failure if it booted. */
export async function bootError(variant: Variant, providers: (Type | Provider)[]): Promise<Error> {
  let ref: TestingModule | undefined;
  try {
    ref = await Test.createTestingModule({ imports: variant.imports(), providers }).compile();
    await ref.init();
  } catch (error) {
    await ref?.close().catch(() => undefined);
    return error as Error;
  }
  await ref.close();
  throw new Error(`expected ${variant.label} to fail at bootstrap, but it booted`);
}

export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((ref) => ref.close()));
}

/** Lets every promise callback already queued run (fake timers never do it for us). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await Promise.resolve();
  }
}
