import { Redis, type Cluster } from 'ioredis';

/**
 * Per client: absent, nothing sent in this turn of the event loop yet; `null`, one call sent;
 * a socket, the one corked for this turn's later calls. A symbol property rather than a WeakMap:
 * a sequential lock cycle pays for the lookup on every call.
 */
const TURN = Symbol('cron-lock.turn');

interface TurnState {
  [TURN]?: null | { uncork(): void };
}

/**
 * Sends `EVALSHA sha`; when other script calls were made on the same client in the same turn
 * of the event loop, they share one socket write.
 *
 * When 1,000 jobs share a schedule, their 1,000 acquisitions start in one synchronous burst;
 * written one by one they cost 1,000 system calls, more than the rest of the client's work. The
 * first call of a turn is written at once; the second one corks the socket, so that it and every
 * later call of the turn are buffered and leave in one write when the socket is uncorked at the
 * next `process.nextTick`. Each call stays an ordinary ioredis command, with its own promise,
 * reply, error and `commandTimeout`, in order. A sequential run never waits: its call is the
 * first of its turn. (ioredis' `enableAutoPipelining` defers every command to `setImmediate` and
 * builds a pipeline even for one, which doubles the cost of a sequential lock cycle; a `Pipeline`
 * of our own cost more allocations per call than the corked writes.)
 *
 * Only for a standalone or Sentinel `Redis` client: a `Cluster` writes to one socket per node.
 */
export function evalshaBatched(
  client: Redis | Cluster,
  sha: string,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  if (client instanceof Redis) {
    const turn = client as Redis & TurnState;
    const state = turn[TURN];
    if (state === undefined) {
      turn[TURN] = null;
      process.nextTick(endTurn, turn);
    } else if (state === null) {
      const socket = client.stream;
      if (socket?.writable) {
        socket.cork();
        turn[TURN] = socket;
      }
    }
  }
  return client.evalsha(sha, keys.length, ...keys, ...args);
}

function endTurn(turn: TurnState): void {
  const socket = turn[TURN];
  turn[TURN] = undefined;
  // The socket corked at the start of the turn, even if the client has reconnected since.
  socket?.uncork();
}
