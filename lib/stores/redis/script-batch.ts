import { Redis, type Cluster } from 'ioredis';

/** One `EVALSHA` waiting for the batch of its client to be written. */
interface QueuedCall {
  sha: string;
  keys: readonly string[];
  args: ReadonlyArray<string | number>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Per client, what was sent in the current turn of the event loop: absent, nothing yet; `null`,
 * one call, written at once; an array, the calls queued behind it, written at the next tick.
 */
const turns = new WeakMap<Redis, QueuedCall[] | null>();

/**
 * Sends `EVALSHA sha`; when other script calls were made on the same client in the same turn
 * of the event loop, they share one socket write.
 *
 * When 1,000 jobs share a schedule, their 1,000 acquisitions start in one synchronous burst;
 * sent one by one they cost 1,000 socket writes (system calls), more than the rest of the
 * client's work. Here the first call of a turn is written at once, as a plain command, and the
 * ones that follow it in the same turn are queued and written together, as one pipeline, at the
 * next `process.nextTick`. Nothing else changes: each call is still its own command with its
 * own reply, error and `commandTimeout` (a pipeline, not a transaction), and the calls of one
 * client keep their order. A sequential run never waits: its call is the first of its turn.
 * (ioredis' own `enableAutoPipelining` defers every command to `setImmediate` and builds a
 * pipeline even for one, which doubles the cost of a sequential lock cycle.)
 *
 * Only for a standalone or Sentinel `Redis` client: on a `Cluster`, the keys of different jobs
 * live in different slots and cannot share a pipeline, so calls go out one by one.
 */
export function evalshaBatched(
  client: Redis | Cluster,
  sha: string,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  if (!(client instanceof Redis)) {
    return client.evalsha(sha, keys.length, ...keys, ...args);
  }
  const queued = turns.get(client);
  if (queued === undefined) {
    turns.set(client, null);
    process.nextTick(endTurn, client);
    return client.evalsha(sha, keys.length, ...keys, ...args);
  }
  return new Promise((resolve, reject) => {
    const call = { sha, keys, args, resolve, reject };
    if (queued === null) {
      turns.set(client, [call]);
    } else {
      queued.push(call);
    }
  });
}

function endTurn(client: Redis): void {
  const calls = turns.get(client);
  turns.delete(client);
  if (!calls) {
    return;
  }
  if (calls.length === 1) {
    const call = calls[0];
    client
      .evalsha(call.sha, call.keys.length, ...call.keys, ...call.args)
      .then(call.resolve, call.reject);
    return;
  }
  const pipeline = client.pipeline();
  for (const call of calls) {
    pipeline.evalsha(call.sha, call.keys.length, ...call.keys, ...call.args);
  }
  pipeline.exec().then(
    (results) => {
      calls.forEach((call, index) => {
        const [error, value] = results?.[index] ?? [new Error('Redis pipeline returned no reply')];
        if (error) {
          call.reject(error);
        } else {
          call.resolve(value);
        }
      });
    },
    (error: unknown) => {
      for (const call of calls) {
        call.reject(error);
      }
    },
  );
}
