import { Redis, type Cluster, type Command } from 'ioredis';
import { DeadlineCommand } from './command-deadline.js';
import { thrownText } from '../../../utils/thrown.js';

/**
 * The script calls of one turn after the first, and where ioredis writes them: at the end of the
 * turn, `sendCommand(command, stream)` with a stream marked `isPipeline` hands it each command's
 * RESP text (ioredis still queues the command for its reply, starts its `commandTimeout` and
 * refuses it when the client is not connected), and the text goes out in one socket write. The
 * commands are handed to ioredis and written in one synchronous step, as its own `Pipeline`
 * does: a command the application sends on a shared client in between can never get between
 * a command's place in the reply queue and its bytes on the wire.
 */
class TurnBatch {
  readonly isPipeline = true;
  readonly destination: { redis: Redis };
  readonly commands: Command[] = [];
  private text = '';
  private writing = false;

  constructor(private readonly client: Redis) {
    this.destination = { redis: client };
  }

  /** Sends the queued commands in one write. */
  flush(): void {
    const commands = this.commands.splice(0);
    this.writing = true;
    try {
      for (const command of commands) {
        try {
          this.client.sendCommand(command, this as never);
        } catch (error) {
          // Never leave a caller waiting on a command that was not sent.
          command.reject(error instanceof Error ? error : new Error(thrownText(error)));
        }
      }
    } finally {
      this.writing = false;
    }
    this.writeText();
  }

  /** Called by ioredis for each command it accepted. */
  write(chunk: string | Buffer): void {
    if (!this.writing) {
      // Outside a flush: ioredis resending a queued command after a reconnect (a client passed
      // in may allow it) writes straight through.
      this.client.stream.write(chunk);
    } else if (typeof chunk === 'string') {
      this.text += chunk;
    } else {
      // Binary arguments (a Buffer key prefix): keep the order, write what came before first.
      this.writeText();
      this.client.stream.write(chunk);
    }
  }

  private writeText(): void {
    if (this.text !== '') {
      this.client.stream.write(this.text);
      this.text = '';
    }
  }
}

/**
 * Per client: absent, nothing sent in this turn of the event loop yet; `null`, one call sent;
 * a batch, collecting the turn's later calls. A symbol property rather than a WeakMap: a
 * sequential lock cycle pays for the lookup on every call.
 */
const TURN = Symbol('cron-lock.turn');
const BATCH = Symbol('cron-lock.batch');
const END = Symbol('cron-lock.end');

interface TurnState {
  [TURN]?: TurnBatch | null;
  [BATCH]?: TurnBatch;
  /** Ends this client's turn: made once per client, queued at every turn's first call. */
  [END]?: () => void;
}

/** Settled once: a turn's end is queued on it, one promise per turn rather than two. */
const SETTLED = Promise.resolve();

/**
 * Sends `EVALSHA sha`; when other script calls were made on the same client in the same turn
 * of the event loop, they share one socket write.
 *
 * When many jobs share a schedule, their acquisitions start in one synchronous burst; written
 * one by one, a burst costs one system call per command. The first call of a turn is written at
 * once; the calls after it in the same turn are appended to one string, written in a promise job
 * that the turn's first call queued (see TurnBatch). Each call stays an ordinary ioredis command,
 * with its own promise, reply, error and `commandTimeout` (kept without a timer of its own: see
 * DeadlineCommand), in order. A sequential run never waits: its call is the first of its turn.
 * (ioredis' `enableAutoPipelining` defers every command to `setImmediate` and wraps even a lone
 * command in a pipeline, which slows a sequential lock cycle; a corked socket gathers one buffer
 * per command, where this writes one string.)
 *
 * Batched only on a standalone or Sentinel `Redis` client: a `Cluster` writes to one socket per
 * node. A client passed in with `enableAutoPipelining` keeps ioredis' own path for every call.
 */
export function evalshaBatched(
  client: Redis | Cluster,
  sha: string,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  const options = client.options;
  if (options.enableAutoPipelining) {
    // The client's own choice: ioredis pipelines the call (and times it the usual way).
    return client.evalsha(sha, keys.length, ...keys, ...args);
  }
  const command = DeadlineCommand.evalsha(sha, keys, args, options);
  // `instanceof` on purpose, unlike isClusterClient(): the batch reaches into this copy's
  // internals, so a client of another ioredis install (or a Cluster) sends one command at a time.
  if (!(client instanceof Redis)) {
    return client.sendCommand(command) as Promise<unknown>;
  }
  const turn = client as Redis & TurnState;
  const state = turn[TURN];
  if (state === undefined) {
    turn[TURN] = null;
    // A promise job, not process.nextTick or queueMicrotask: Jest's modern fake timers fake
    // both, and a faked turn never ended, which held every later call of a test that does not
    // advance its clock (runLockedJob on Redis) unwritten.
    void SETTLED.then((turn[END] ??= () => endTurn(turn)));
    return client.sendCommand(command) as Promise<unknown>;
  }
  let batch = state;
  if (batch === null) {
    batch = turn[BATCH] ??= new TurnBatch(client);
    turn[TURN] = batch;
  }
  batch.commands.push(command);
  return command.promise;
}

/**
 * Writes now the script calls batched for the end of this turn. Called before the client
 * closes: a `QUIT` sent first would leave them to fail with "Connection is closed".
 */
export function flushBatched(client: Redis | Cluster): void {
  const turn = client as Redis & TurnState;
  if (turn[TURN]) {
    endTurn(turn);
  }
}

function endTurn(turn: Redis & TurnState): void {
  const batch = turn[TURN];
  turn[TURN] = undefined;
  batch?.flush();
}
