// Takes the dashboard screenshot of the docs (docs/images/dashboard.png) with the system
// Chromium: three Nest apps in this process share one MemoryLockStore, run their jobs a few
// times (some fail, one is paused, one is running), and the first serves the page.
//
//   npm run screenshot:dashboard            (CHROMIUM_PATH to use another browser)
import 'reflect-metadata';
import { Injectable, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { CronLockModule, CronLockService, LockedCron, MemoryLockStore } from 'nestjs-cron-lock';
import { CronLockDashboardModule } from 'nestjs-cron-lock/dashboard';
import { chromiumPath } from '../test/dashboard/support/browser.js';

const OUTPUT = new URL('../docs/images/dashboard.png', import.meta.url);

@Injectable()
class Jobs {
  @LockedCron('0 * * * *', { ttl: '5m', name: 'reports.hourly', timeZone: 'Europe/Paris' })
  async hourly(): Promise<void> {}

  @LockedCron('*/5 * * * *', { ttl: '30s', name: 'billing.sync' })
  async sync(): Promise<void> {}

  @LockedCron('0 3 * * *', { ttl: '1h', name: 'cleanup.nightly', timeZone: 'UTC' })
  async nightly(): Promise<void> {}

  @LockedCron('*/15 * * * *', { ttl: '2m', name: 'search.reindex' })
  async reindex(): Promise<void> {}
}

class AllowAll {
  canActivate(): boolean {
    return true;
  }
}

@Module({})
class ShotModule {
  static of(store: MemoryLockStore, instanceId: string): DynamicModule {
    return {
      module: ShotModule,
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store, instanceId, logger: false }),
        CronLockDashboardModule.forRoot({ path: '/cron-lock', guard: AllowAll, actions: true }),
      ],
      providers: [Jobs],
    };
  }
}

async function main(): Promise<void> {
  const store = new MemoryLockStore();
  const apps: INestApplication[] = [];
  for (const id of ['web-7f9c4-a', 'web-7f9c4-b', 'worker-2']) {
    apps.push(await NestFactory.create(ShotModule.of(store, id), { logger: false }));
  }
  await apps[0]!.listen(0, '127.0.0.1');
  const [a, b, c] = apps.map((app) => app.get(CronLockService));
  const hour = 3_600_000;
  const now = Date.now();
  const ran = (service: CronLockService, name: string, at: number, ms: number, fail = false) =>
    service
      .run(name, { ttl: '5m', scheduledAt: at }, async () => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        if (fail) throw new Error('upstream answered 503 Service Unavailable');
      })
      .catch(() => undefined);
  for (let i = 12; i >= 1; i--) {
    const at = Math.floor((now - i * hour) / hour) * hour;
    await ran([a, b, c][i % 3]!, 'reports.hourly', at, 20 + ((i * 37) % 90));
    await ran([b, c, a][i % 3]!, 'billing.sync', at, 10 + ((i * 13) % 40), i === 2 || i === 1);
    await ran(c!, 'search.reindex', at, 30 + ((i * 53) % 120));
  }
  await ran(a!, 'cleanup.nightly', Math.floor((now - 20 * hour) / 86_400_000) * 86_400_000, 150);
  await c!.pause('search.reindex', { reason: 'index migration, ticket OPS-412' });
  let stop!: () => void;
  const holding = b!.run(
    'reports.hourly',
    { ttl: '5m' },
    () => new Promise<void>((r) => (stop = r)),
  );

  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1560, height: 600 } });
    await page.goto(`${(await apps[0]!.getUrl()).replace('[::1]', '127.0.0.1')}/cron-lock`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('#histories details[data-job="billing.sync"] summary');
    mkdirSync(new URL('.', OUTPUT), { recursive: true });
    await page.screenshot({ path: OUTPUT.pathname, fullPage: true });
    console.log(`wrote ${OUTPUT.pathname}`);
  } finally {
    await browser.close();
    stop();
    await holding;
    await Promise.all(apps.map((app) => app.close()));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
