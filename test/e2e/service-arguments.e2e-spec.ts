// The arguments of CronLockService's fleet calls (pause, history, trigger) and of run(), checked
// before any store call: a key present but empty is refused as the module options refuse one,
// and a name of any type is refused with a CronLockConfigError naming the call.
import { Injectable } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CronLockConfigError,
  CronLockModule,
  CronLockService,
  LockedCron,
  MemoryLockStore,
} from 'nestjs-cron-lock';
import { CapturingLogger } from '../support/capturing-logger.js';
import { waitFor } from '../support/redis.js';

const JOB = 'arguments-yearly';

@Injectable()
class YearlyJob {
  // Once a year: no scheduler tick gets in the way; trigger() runs it on this app.
  @LockedCron('0 0 1 1 *', { name: JOB })
  async report(): Promise<void> {}
}

const QUEUE_JOB = 'arguments-queue';

@Injectable()
class QueueJob {
  // Its ticks would queue behind a run in progress; a run() on its name takes no overlap policy.
  @LockedCron('0 0 1 1 *', { name: QUEUE_JOB, overlap: 'queue' })
  async report(): Promise<void> {}
}

let app: TestingModule;
let locks: CronLockService;

beforeAll(async () => {
  app = await Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      CronLockModule.forRoot({ store: new MemoryLockStore(), logger: false }),
    ],
    providers: [YearlyJob, QueueJob],
  }).compile();
  await app.init();
  locks = app.get(CronLockService);
});

afterAll(async () => {
  await app.close();
});

/** What a call settled with: its rejection, or `undefined` if it resolved. */
async function rejectionOf(attempt: () => Promise<unknown>): Promise<unknown> {
  return attempt().then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('fleet call options present but empty (as config.get() of an unset variable gives)', () => {
  const empties = [undefined, null];
  const cases: Array<[string, string, (options: never) => Promise<unknown>]> = [
    ['pause', 'until', (options) => locks.pause(JOB, options)],
    ['pause', 'reason', (options) => locks.pause(JOB, options)],
    ['history', 'limit', (options) => locks.history(JOB, options)],
    ['trigger', 'force', (options) => locks.trigger(JOB, options)],
    ['trigger', 'timeout', (options) => locks.trigger(JOB, options)],
    ['trigger', 'wait', (options) => locks.trigger(JOB, options)],
  ];

  it.each(
    cases.flatMap(([method, key, call]) => empties.map((empty) => [method, key, empty, call])),
  )(
    'rejects %s({ %s: %s }) instead of taking what leaving it out gives',
    async (method, key, empty, call) => {
      const error = await rejectionOf(() =>
        (call as (options: never) => Promise<unknown>)({ [key as string]: empty } as never),
      );

      expect(error).toBeInstanceOf(CronLockConfigError);
      const message = (error as Error).message;
      expect(message).toContain(`CronLockService.${method as string}("${JOB}")`);
      expect(message).toContain(`option ${key as string} is present but ${String(empty)}`);
      expect(message).toContain('Fix: set it, or leave the key out');
      // Refused before the store: no pause until someone resumes, no triggered run.
      expect((await locks.inspect(JOB)).paused).toBe(false);
      expect((await locks.inspect(JOB)).lastOutcome).toBeNull();
    },
  );
});

describe('a name no lock can have, of any type', () => {
  // A BigInt breaks JSON.stringify; an object without a prototype breaks String().
  const names: Array<[string, unknown]> = [
    ['a BigInt', 42n],
    ['an object without a prototype', Object.create(null)],
  ];
  let ran = false;
  // [method, arguments after the name, call]
  const calls: Array<[string, string, (name: never) => Promise<unknown>]> = [
    [
      'run',
      'no options',
      (name) =>
        locks.run(name, undefined, () => {
          ran = true;
        }),
    ],
    ['run', 'options', (name) => locks.run(name, { ttl: '5s' }, () => (ran = true))],
    ['trigger', 'no options', (name) => locks.trigger(name)],
    ['pause', 'no options', (name) => locks.pause(name)],
    ['resume', 'no options', (name) => locks.resume(name)],
    ['history', 'no options', (name) => locks.history(name)],
    ['inspect', 'no options', (name) => locks.inspect(name)],
  ];

  it.each(
    calls.flatMap(([method, rest, call]) =>
      names.map(([what, name]) => [method, what, rest, name, call]),
    ),
  )(
    'rejects %s() with %s (%s) with a CronLockConfigError naming the call, not a TypeError',
    async (method, _what, _rest, name, call) => {
      const error = await rejectionOf(() =>
        (call as (name: never) => Promise<unknown>)(name as never),
      );

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        new RegExp(`^CronLockService\\.${method as string}\\((42|an object)\\): lock name`),
      );
      expect(ran).toBe(false);
    },
  );
});

describe('a pause note that would not stay on one line', () => {
  // A note is printed in log lines, by the CLI's status and on the dashboard: a C1 control
  // (NEL is a line break in some log viewers, CSI starts a terminal escape) or a Unicode line
  // separator would split or forge a line there, as a C0 control would.
  const notes: Array<[string, string]> = [
    ['a NEL (U+0085)', 'vendor\u0085[ERROR] forged line'],
    ['a CSI (U+009B)', 'vendor\u009b2J outage'],
    ['a line separator (U+2028)', 'vendor\u2028outage'],
    ['a paragraph separator (U+2029)', 'vendor\u2029outage'],
    // Shown in a browser as "maintenance by -all-admin.exe delete ok".
    ['a right-to-left override (U+202E)', 'maintenance by \u202eexe.nimda-lla-eteled\u202c ok'],
    ['a right-to-left isolate (U+2067)', 'vendor \u2067egatuo\u2069'],
  ];

  it.each(notes)(
    'rejects a reason with %s, as the CLI does, and pauses nothing',
    async (_what, reason) => {
      const error = await rejectionOf(() => locks.pause(JOB, { reason }));

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toContain(`CronLockService.pause("${JOB}"): reason`);
      expect((error as Error).message).toContain('on one line');
      expect((await locks.inspect(JOB)).paused).toBe(false);
    },
  );

  it('still takes a note with accents, symbols and emoji', async () => {
    await locks.pause(JOB, { reason: 'fournisseur en panne — café ☕ 🚧' });
    try {
      expect((await locks.inspect(JOB)).pauseReason).toBe('fournisseur en panne — café ☕ 🚧');
    } finally {
      await locks.resume(JOB);
    }
  });
});

describe('the skip reasons of run()', () => {
  it("answers held, never queued, on the name of an overlap: 'queue' job whose lock is held", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = locks.run(QUEUE_JOB, { scheduledAt: Date.now() - 2_000 }, () => gate);
    await waitFor(() => locks.heldLocks.includes(QUEUE_JOB));

    const second = await locks.run(QUEUE_JOB, { scheduledAt: Date.now() - 1_000 }, () => 'ran');

    expect(second).toMatchObject({ ran: false, reason: 'held' });
    release();
    expect((await first).ran).toBe(true);
  });
});

describe('run() without a function to run', () => {
  // The likeliest slip passes the work's promise, `run(name, options, this.rebuild())`: the work
  // then runs outside the lock, and the lock must not also claim the occurrence for nothing.
  const callbacks: Array<[string, unknown, string]> = [
    ['undefined', undefined, 'no-callback-undefined'],
    ['a promise (the work called, not passed)', Promise.resolve('done'), 'no-callback-promise'],
    ['a string', 'rebuild', 'no-callback-string'],
  ];

  it.each(callbacks)(
    'rejects %s with a CronLockConfigError naming the call, and claims nothing',
    async (_what, fn, name) => {
      const scheduledAt = Date.now() - 1_000;

      const error = await rejectionOf(() => locks.run(name, { scheduledAt }, fn as never));

      expect(error).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        new RegExp(`^CronLockService\\.run\\("${name}"\\): .*function.*Fix:`),
      );
      // The occurrence is still free, and no failed run was recorded against the name.
      const state = await locks.inspect(name);
      expect(state).toMatchObject({ lastTick: null, consecutiveFailures: 0, lastOutcome: null });
      const retried = await locks.run(name, { scheduledAt }, () => 'ran');
      expect(retried).toMatchObject({ ran: true, value: 'ran' });
    },
  );
});

describe('on(), off() and onAny() with a listener that cannot be called or an event that does not exist', () => {
  // Taken as is, such a listener failed on every event of every run (one error line each) or, for
  // a misspelt event, never heard anything: the mistake must surface at the call instead.
  let logged: TestingModule;
  let logger: CapturingLogger;
  let service: CronLockService;

  beforeAll(async () => {
    logger = new CapturingLogger();
    logged = await Test.createTestingModule({
      imports: [CronLockModule.forRoot({ store: new MemoryLockStore(), logger })],
    }).compile();
    await logged.init();
    service = logged.get(CronLockService);
  });

  afterAll(async () => {
    await logged.close();
  });

  const listener = (): void => undefined;
  // [call, what, expected in the message, attempt]
  const cases: Array<[string, string, RegExp, (locks: CronLockService) => unknown]> = [
    [
      'on',
      'an undefined listener',
      /listener.*undefined.*Fix:/,
      (l) => l.on('acquired', undefined as never),
    ],
    [
      'on',
      'a string listener',
      /listener.*"done".*Fix:/,
      (l) => l.on('completed', 'done' as never),
    ],
    [
      'on',
      'a promise as listener',
      /listener.*an object.*Fix:/,
      (l) => l.on('failed', Promise.resolve() as never),
    ],
    [
      'on',
      'a misspelt event',
      /"aquired".*did you mean "acquired"\?.*Fix:.*store-error/,
      (l) => l.on('aquired' as never, listener),
    ],
    [
      'on',
      'an undefined event',
      /undefined is not an event.*Fix:.*acquired, skipped/,
      (l) => l.on(undefined as never, listener),
    ],
    [
      'off',
      'a misspelt event',
      /"Lost".*did you mean "lost"\?/,
      (l) => l.off('Lost' as never, listener),
    ],
    [
      'off',
      'an undefined listener',
      /listener.*undefined.*Fix:/,
      (l) => l.off('lost', undefined as never),
    ],
    [
      'onAny',
      'an undefined listener',
      /listener.*undefined.*Fix:/,
      (l) => l.onAny(undefined as never),
    ],
    ['onAny', 'a number as listener', /listener.*42.*Fix:/, (l) => l.onAny(42 as never)],
  ];

  it.each(cases)(
    'refuses %s() with %s: a CronLockConfigError naming the call, and nothing listens',
    async (method, _what, expected, attempt) => {
      let thrown: unknown;
      try {
        attempt(service);
      } catch (error) {
        thrown = error;
      }

      expect(thrown).toBeInstanceOf(CronLockConfigError);
      const message = (thrown as Error).message;
      expect(message.startsWith(`CronLockService.${method}: `)).toBe(true);
      expect(message).toMatch(expected);
      // Nothing was added: a run emits its events without a listener failing on any of them.
      const linesBefore = logger.lines.length;
      expect(await service.run('listener-arguments', undefined, () => 'ran')).toMatchObject({
        ran: true,
      });
      const failures = logger.lines
        .slice(linesBefore)
        .filter((line) => line.message.includes('A listener of the'));
      expect(failures).toEqual([]);
    },
  );

  it('still takes a function on a known event, and off() removes it', async () => {
    const heard: string[] = [];
    const record = (): void => void heard.push('completed');
    const stop = service.on('completed', record);
    await service.run('listener-arguments', undefined, () => 'ran');
    service.off('completed', record);
    await service.run('listener-arguments', undefined, () => 'ran');
    stop();

    expect(heard).toEqual(['completed']);
  });
});
