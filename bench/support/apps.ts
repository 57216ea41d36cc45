import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CronLockModule, CronLockService, type CronLockModuleOptions } from 'nestjs-cron-lock';

/** One app instance as a user would run it: a Nest application context with the module. */
export interface LockApp {
  app: INestApplicationContext;
  locks: CronLockService;
  close(): Promise<void>;
}

export async function startLockApp(options: CronLockModuleOptions): Promise<LockApp> {
  @Module({ imports: [CronLockModule.forRoot({ logger: false, ...options })] })
  class BenchAppModule {}

  const app = await NestFactory.createApplicationContext(BenchAppModule, { logger: false });
  await app.init();
  return { app, locks: app.get(CronLockService), close: () => app.close() };
}
