import type { CronLockService, LockContext } from 'nestjs-cron-lock';

/**
 * A run of `name` that holds its lock until `stop()`, whatever its signal says (a run that lost
 * its lock goes on until it returns). `done` settles with its result or error.
 */
export function holdUntilStopped(
  locks: CronLockService,
  name: string,
): { stop: () => void; started: Promise<LockContext>; done: Promise<unknown> } {
  let stop!: () => void;
  let started!: (ctx: LockContext) => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const startedPromise = new Promise<LockContext>((resolve) => (started = resolve));
  const done = locks
    .run(name, { ttl: '30s' }, async (ctx) => {
      started(ctx);
      await stopped;
    })
    .catch((error: unknown) => error);
  return { stop, started: startedPromise, done };
}
