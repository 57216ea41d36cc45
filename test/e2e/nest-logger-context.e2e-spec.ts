// The usage guide's own example passes `logger: new Logger('Locks')`. Nest's Logger appends its
// context after whatever a line passes, so a context passed by the module as well was printed as
// one more message: every line came out twice, the second reading "CronLock".
import { ConsoleLogger, Logger, type LogLevel } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CronLockModule, CronLockService, MemoryLockStore } from 'nestjs-cron-lock';

/** Nest's console logger, keeping what it would print instead of printing it. */
class PrintedLines extends ConsoleLogger {
  readonly printed: { level: LogLevel; context: string; message: string }[] = [];
  readonly stacks: string[] = [];

  protected override printMessages(
    messages: unknown[],
    context = '',
    logLevel: LogLevel = 'log',
  ): void {
    for (const message of messages) {
      this.printed.push({ level: logLevel, context, message: String(message) });
    }
  }

  protected override printStackTrace(stack?: string): void {
    if (stack) {
      this.stacks.push(stack);
    }
  }
}

let module: TestingModule | undefined;

afterEach(async () => {
  await module?.close();
  module = undefined;
});

describe('logger: a Nest Logger built with a context', () => {
  it('prints each line once, under that context, with the stack as a stack', async () => {
    const output = new PrintedLines();
    module = await Test.createTestingModule({
      imports: [
        CronLockModule.forRoot({ store: new MemoryLockStore(), logger: new Logger('Locks') }),
      ],
    })
      // The app's logger, which `new Logger('Locks')` writes to.
      .setLogger(output)
      .compile();
    await module.init();
    const locks = module.get(CronLockService);

    await expect(
      locks.run('broken', undefined, () => {
        throw new Error('upstream down');
      }),
    ).rejects.toThrow('upstream down');
    await locks.pause('broken');

    const ours = output.printed.filter(({ context }) => context === 'Locks');
    expect(ours.map(({ level }) => level)).toEqual(['warn', 'error', 'log']);
    expect(ours[0]!.message).toContain('in-memory lock store');
    expect(ours[1]!.message).toContain('broken failed after');
    expect(ours[2]!.message).toContain('Paused job "broken"');
    expect(output.printed.filter(({ message }) => message === 'CronLock')).toEqual([]);
    expect(output.stacks).toHaveLength(1);
    expect(output.stacks[0]).toMatch(/^Error: upstream down\n\s+at /);
  });
});
