// The dashboard's pause action with a note that quotes a connection string: the note is kept,
// logged and emitted with the URL's password hidden (CronLockService.pause() does that), and the
// dashboard's own `Dashboard: paused …` line and its answer to the page say the same, on every
// built-in store: the operator's note reaches the app's logs, where no password may go.
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService } from 'nestjs-cron-lock';
import { CronLockDashboardModule } from 'nestjs-cron-lock/dashboard';
import { builtInStores } from '../support/built-in-stores.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { csrfOf, DashboardJobs, OpenGuard, urlOf } from './support/fleet.js';

const PASSWORD = 'hunter2-dash-secret';
const NOTE = `cache moved to redis://ops:${PASSWORD}@cache.internal:6379`;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) {
    await undo();
  }
});

describe.each(builtInStores('dash_pause_secret'))('dashboard pause note on $label', ({ build }) => {
  it('logs and answers the pause note with the password of its URL hidden', async () => {
    const { store, close } = await build();
    cleanup.push(close);
    const logger = new CapturingLogger();
    @Module({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({ store, logger }),
        CronLockDashboardModule.forRoot({ path: '/cron-lock', guard: OpenGuard, actions: true }),
      ],
      providers: [DashboardJobs],
    })
    class PausingApp {}
    const app: INestApplication = await NestFactory.create(PausingApp, { logger: false });
    cleanup.push(() => app.close());
    await app.listen(0, '127.0.0.1');
    const page = `${await urlOf(app)}/cron-lock`;
    const { cookie, token } = await csrfOf(page);

    const paused = await fetch(`${page}/api/jobs/sync/pause`, {
      method: 'POST',
      headers: { cookie, 'x-cron-lock-csrf': token, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: NOTE }),
    });
    expect(paused.status).toBe(200);
    const answer = (await paused.json()) as { message: string };

    // The note as kept, which every other output shows.
    const kept = (await app.get(CronLockService).inspect('sync')).pauseReason;
    expect(kept).toBe('cache moved to redis://ops:***@cache.internal:6379');
    const dashboardLines = logger.lines
      .map((line) => line.message)
      .filter((message) => message.startsWith('Dashboard'));
    expect(dashboardLines).toEqual([`Dashboard: paused sync (reason: ${kept})`]);
    expect(answer.message).toBe(`paused sync (reason: ${kept})`);
    expect(logger.lines.map((line) => line.message).join('\n')).not.toContain(PASSWORD);
  });
});
