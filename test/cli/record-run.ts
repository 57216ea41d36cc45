import type { RedisLockStore } from 'nestjs-cron-lock';

/** One completed run of `name` recorded in its history, as an instance's release records it. */
export async function recordRun(
  store: RedisLockStore,
  name: string,
  instanceId: string,
): Promise<number> {
  const scheduledAt = Math.floor(Date.now() / 1_000) * 1_000 - 60_000;
  const acquired = await store.acquire({
    name,
    token: `t-${instanceId}`,
    ttl: 10_000,
    scheduledAt,
    instanceId,
  });
  if (!acquired.acquired) throw new Error('not acquired');
  const finishedAt = Date.now();
  await store.release({
    name,
    token: `t-${instanceId}`,
    historySize: 10,
    outcome: {
      status: 'completed',
      durationMs: 12,
      finishedAt,
      run: {
        scheduledAt,
        startedAt: finishedAt - 12,
        fencingToken: acquired.fencingToken,
        instanceId,
        trigger: 'schedule',
        outcome: 'completed',
        error: null,
      },
    },
  });
  return acquired.fencingToken;
}
