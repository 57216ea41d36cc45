import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CronLockModule,
  CronLockService,
  MemoryLockStore,
  type CronLockModuleOptions,
} from 'nestjs-cron-lock';

/**
 * The Nest apps of one test, in one process: each a testing module with ScheduleModule,
 * CronLockModule and the test's job classes, whose crons start when it boots. Close them all
 * after the test (and before asserting, so that no run is still in progress).
 */
export class CronApps {
  private apps: TestingModule[] = [];

  /**
   * Boots an app and returns its lock service. `listen` subscribes to the app's events before
   * its crons start, so that what happens at bootstrap (a catch-up, a missed report) is seen.
   */
  async boot(
    options: CronLockModuleOptions,
    providers: Array<new () => unknown>,
    listen: (locks: CronLockService) => void = () => undefined,
  ): Promise<CronLockService> {
    const module = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), CronLockModule.forRoot(options)],
      providers,
    }).compile();
    const locks = module.get(CronLockService);
    listen(locks);
    // Kept before init, so that an app that fails to boot is still closed.
    this.apps.push(module);
    await module.init();
    return locks;
  }

  /** Closes every app booted so far. */
  async closeAll(): Promise<void> {
    await Promise.all(this.apps.map((app) => app.close()));
    this.apps = [];
  }
}

/**
 * A store whose markers say each named job last ran five minutes ago, on a minute: a job of a
 * per-minute schedule booted on it has missed some occurrences.
 */
export async function storeWithMissedOccurrences(names: string[]): Promise<MemoryLockStore> {
  const store = new MemoryLockStore();
  const seed = await Test.createTestingModule({
    imports: [CronLockModule.forRoot({ store, logger: false })],
  }).compile();
  await seed.init();
  const minute = Date.now() - (Date.now() % 60_000);
  for (const name of names) {
    await seed
      .get(CronLockService)
      .run(name, { scheduledAt: minute - 5 * 60_000 }, () => undefined);
  }
  await seed.close();
  return store;
}
