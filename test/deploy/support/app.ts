import { ConsoleLogger, Module, type Provider } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { CronLockModule, CronLockService, type CronLockModuleOptions } from 'nestjs-cron-lock';

export interface BootOptions {
  /** Extra providers (e.g. a class with @LockedCron methods). */
  providers?: Provider[];
  /**
   * Give the app Nest's ConsoleLogger (prints to stdout/stderr) instead of the testing logger
   * (errors only), to capture what the app's own Logger prints.
   */
  consoleLogger?: boolean;
}

/** Compiles and inits an app with CronLockModule.forRoot(options) (and ScheduleModule). */
export async function bootApp(
  options: CronLockModuleOptions,
  { providers = [], consoleLogger = false }: BootOptions = {},
): Promise<TestingModule> {
  @Module({ imports: [ScheduleModule.forRoot(), CronLockModule.forRoot(options)], providers })
  class AppModule {}
  const builder = Test.createTestingModule({ imports: [AppModule] });
  if (consoleLogger) {
    builder.setLogger(new ConsoleLogger());
  }
  const app = await builder.compile();
  await app.init();
  return app;
}

/** Runs one locked cycle by hand and returns its result plus the store-error messages it caused. */
export async function runOnce(
  app: TestingModule,
  name: string,
  fn: () => unknown = () => 'done',
): Promise<{ ran: boolean; reason?: string; storeErrors: string[] }> {
  const locks = app.get(CronLockService);
  const storeErrors: string[] = [];
  const off = locks.on('store-error', (event) => storeErrors.push(event.message));
  try {
    const result = await locks.run(name, { ttl: '5s', scheduledAt: Date.now() }, async () => fn());
    return result.ran
      ? { ran: true, storeErrors }
      : { ran: false, reason: result.reason, storeErrors };
  } finally {
    off();
  }
}
