// A pause note is free text an operator types, and may quote a connection string with its
// password: it is shown to every operator and written to the logs, so it comes out redacted
// everywhere, as the dashboard already showed it.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
  type CronLockEvents,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';

const JOB = 'pause-note-yearly';
const NOTE = 'db moved, see postgres://admin:hunter2@db.internal:5432/app';
const REDACTED = 'db moved, see postgres://admin:***@db.internal:5432/app';

@Injectable()
class YearlyJob {
  // Once a year: no scheduler tick gets in the way.
  @LockedCron('0 0 1 1 *', { name: JOB })
  async report(): Promise<void> {}
}

let app: TestingModule;
let locks: CronLockService;
const store = new MemoryLockStore();
const logger = new CapturingLogger();

beforeAll(async () => {
  app = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), CronLockModule.forRoot({ store, logger })],
    providers: [YearlyJob],
  }).compile();
  await app.init();
  locks = app.get(CronLockService);
});

afterAll(async () => {
  await app.close();
});

describe('a pause note quoting a URL with its password', () => {
  it('is logged, emitted, kept and inspected with the password hidden', async () => {
    const events: Array<CronLockEvents['paused']> = [];
    const stop = locks.on('paused', (payload) => events.push(payload));
    await locks.pause(JOB, { reason: NOTE });
    stop();

    const pausedLine = logger.lines.find((line) => line.message.startsWith(`Paused job "${JOB}"`));
    expect(pausedLine?.message).toContain(REDACTED);
    expect(events.map((event) => event.reason)).toEqual([REDACTED]);
    expect((await locks.inspect(JOB)).pauseReason).toBe(REDACTED);
    expect((await store.inspect(JOB)).pauseReason).toBe(REDACTED);
    expect(JSON.stringify(logger.lines)).not.toContain('hunter2');
    await locks.resume(JOB);
  });

  it("is inspected with the password hidden when it was written by the store's own pause()", async () => {
    await store.pause(JOB, { reason: NOTE, until: null });
    expect((await locks.inspect(JOB)).pauseReason).toBe(REDACTED);
    expect((await locks.inspect()).find((job) => job.name === JOB)?.pauseReason).toBe(REDACTED);
    await locks.resume(JOB);
  });
});

describe('the length of a pause note', () => {
  // `p@` is hidden as `***@`: the kept note is longer than the one the user typed.
  const QUOTE = 'redis://u:p@h';

  it('is counted on the note as given, not as the hidden password made it', async () => {
    const note = `${QUOTE} ${'x'.repeat(499 - QUOTE.length - 1)}`;
    expect(note).toHaveLength(499);
    await locks.pause(JOB, { reason: note });

    // Hiding the password made it 501 characters: the kept note ends where the store's limit does.
    const kept = (await locks.inspect(JOB)).pauseReason;
    expect(kept).toMatch(/^redis:\/\/u:\*\*\*@h x+…$/);
    expect(kept).toHaveLength(500);
    expect((await store.inspect(JOB)).pauseReason).toBe(kept);
    await locks.resume(JOB);
  });

  it('keeps a note of exactly 500 characters whole, and refuses 501 as given', async () => {
    const note = 'y'.repeat(500);
    await locks.pause(JOB, { reason: note });
    expect((await locks.inspect(JOB)).pauseReason).toBe(note);
    await locks.resume(JOB);

    const attempt = locks.pause(JOB, { reason: `${QUOTE} ${'z'.repeat(501 - QUOTE.length - 1)}` });
    await expect(attempt).rejects.toThrow('Fix: pass a note of 1 to 500 characters');
    // The refusal quotes the note with the password hidden.
    await expect(attempt).rejects.toThrow('redis://u:***@h');
    expect((await locks.inspect(JOB)).paused).toBe(false);
  });
});
