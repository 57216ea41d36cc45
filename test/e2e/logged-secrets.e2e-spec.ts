// A job's error, or a listener's, may quote a connection string with its password (a driver's
// "connect ECONNREFUSED postgres://app:pw@db" message). The history already hides it; the log
// lines that report the same failure must hide it too (no URL user info in logs).
import type { LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, MemoryLockStore } from 'nestjs-cron-lock';

/** Keeps every argument of every line: a password in the stack argument is printed too. */
class EveryArgumentLogger implements LoggerService {
  readonly calls: { level: string; args: unknown[] }[] = [];
  log(...args: unknown[]): void {
    this.calls.push({ level: 'log', args });
  }
  error(...args: unknown[]): void {
    this.calls.push({ level: 'error', args });
  }
  warn(...args: unknown[]): void {
    this.calls.push({ level: 'warn', args });
  }
  debug(...args: unknown[]): void {
    this.calls.push({ level: 'debug', args });
  }
  verbose(...args: unknown[]): void {
    this.calls.push({ level: 'verbose', args });
  }

  /** Everything written, as one text. */
  text(): string {
    return this.calls.map(({ args }) => args.map(String).join('\n')).join('\n');
  }

  /** The first argument of each error line. */
  errors(): string[] {
    return this.calls.filter(({ level }) => level === 'error').map(({ args }) => String(args[0]));
  }
}

let module: TestingModule | undefined;

afterEach(async () => {
  await module?.close();
  module = undefined;
});

async function service(logger: LoggerService): Promise<CronLockService> {
  module = await Test.createTestingModule({
    imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger })],
  }).compile();
  await module.init();
  return module.get(CronLockService);
}

describe('log lines of a failure that quotes a password', () => {
  it.each([
    ['an Error', () => new Error('connect postgres://app:s3cret-pw@db.internal/app refused')],
    ['a string', () => 'connect postgres://app:s3cret-pw@db.internal/app refused'],
  ])(
    "hide the password of a URL in the job's error (%s), as its history does",
    async (_kind, make) => {
      const logger = new EveryArgumentLogger();
      const locks = await service(logger);
      const scheduledAt = Date.parse('2025-06-01T12:00:00.000Z');

      await expect(
        locks.run('leaky', { scheduledAt }, () => {
          throw make();
        }),
      ).rejects.toBeDefined();

      const [entry] = await locks.history('leaky');
      expect(entry!.error).not.toContain('s3cret-pw');
      const line = logger.errors().find((message) => message.startsWith('leaky @'));
      // Still says what failed and where, with the user name.
      expect(line).toContain('postgres://app:***@db.internal/app refused');
      expect(logger.text()).not.toContain('s3cret-pw');
    },
  );

  it("hide the password of a URL in a listener's error", async () => {
    const logger = new EveryArgumentLogger();
    const locks = await service(logger);
    locks.on('completed', () => {
      throw new Error('webhook https://hook:l1stener-pw@alerts.internal/x failed');
    });

    await locks.run('fine', undefined, () => 'ok');

    const line = logger.errors().find((message) => message.includes('"completed"'));
    expect(line).toContain('https://hook:***@alerts.internal/x failed');
    expect(logger.text()).not.toContain('l1stener-pw');
  });
});
