import { randomFillSync } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { DeadlineCommand } from '../../lib/stores/redis/ioredis/command-deadline.js';

/** Commands the benchmark itself sends to read or reset statistics: never counted. */
const BOOKKEEPING = new Set(['info', 'config', 'client', 'ping', 'script', 'flushall', 'select']);

/** Calls per command name, e.g. `{ evalsha: 4000, set: 1000 }`. */
export type CommandCalls = Record<string, number>;

/**
 * Reads `INFO commandstats` on the server. Commands run inside Lua scripts count too (Redis adds
 * them to their own command), so this is "work done by the server", not round trips.
 */
export async function commandStats(client: Redis): Promise<CommandCalls> {
  const text = await client.info('commandstats');
  const calls: CommandCalls = {};
  for (const line of text.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match && !BOOKKEEPING.has(match[1].split('|')[0])) {
      calls[match[1]] = Number(match[2]);
    }
  }
  return calls;
}

/** Commands a client sends itself (as opposed to commands run inside a script). */
const TOP_LEVEL = ['set', 'evalsha', 'eval'];

/**
 * Microseconds the server spent executing the `SET`, `EVALSHA` and `EVAL` commands so far
 * (`INFO commandstats` usec; a script's time includes the commands it runs). Measures the
 * server-side cost of a lock cycle without the network or the client, whatever the load.
 */
export async function serverMicros(client: Redis): Promise<number> {
  const text = await client.info('commandstats');
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=\d+,usec=(\d+)/.exec(line.trim());
    if (match && TOP_LEVEL.includes(match[1])) {
      total += Number(match[2]);
    }
  }
  return total;
}

export function diffCalls(after: CommandCalls, before: CommandCalls): CommandCalls {
  const delta: CommandCalls = {};
  for (const [name, count] of Object.entries(after)) {
    const diff = count - (before[name] ?? 0);
    if (diff > 0) {
      delta[name] = diff;
    }
  }
  return delta;
}

export function totalCalls(calls: CommandCalls): number {
  return Object.values(calls).reduce((sum, count) => sum + count, 0);
}

/** `evalsha 4.00 + exists 1.00 …` per unit, biggest first. */
export function formatCalls(calls: CommandCalls, per: number): string {
  return Object.entries(calls)
    .sort((a, b) => b[1] - a[1])
    .map(([name, count]) => `${name} ${(count / per).toFixed(2)}`)
    .join(' + ');
}

/**
 * Counts the commands every ioredis client of this process sends (one request/reply each: a
 * round trip, pipelined or not), including the clients the module creates for itself. Wraps
 * `Redis.prototype.sendCommand` once; bookkeeping commands are left out.
 */
class RoundTripCounter {
  private count = 0;
  private installed = false;

  install(): void {
    if (this.installed) {
      return;
    }
    this.installed = true;
    const prototype = Redis.prototype as unknown as {
      sendCommand: (this: Redis, command: { name: string }, ...rest: unknown[]) => unknown;
    };
    const original = prototype.sendCommand;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const counter = this;
    prototype.sendCommand = function (this: Redis, command, ...rest) {
      if (!BOOKKEEPING.has(String(command.name).toLowerCase())) {
        counter.count += 1;
      }
      return original.call(this, command, ...rest);
    };
  }

  get value(): number {
    return this.count;
  }
}

export const roundTrips = new RoundTripCounter();

/** The raw floor's compare-and-delete: the smallest correct release. */
export const RAW_RELEASE_LUA =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

const tokenPool = Buffer.alloc(16 * 256);
let tokenOffset = tokenPool.length;

/**
 * 128 random bits as 32 hex characters, cut from a pool refilled by one CSPRNG call per 256
 * tokens (as `crypto.randomUUID()` does): the floor should not pay a `randomBytes()` call per
 * lock, which costs several microseconds on some virtual machines.
 */
export function cheapToken(): string {
  if (tokenOffset === tokenPool.length) {
    randomFillSync(tokenPool);
    tokenOffset = 0;
  }
  tokenOffset += 16;
  return tokenPool.toString('hex', tokenOffset - 16, tokenOffset);
}

/**
 * The physical floor: `SET key token NX PX ttl` and an `EVALSHA` compare-and-delete. With
 * `sendAsModule`, the two commands are sent the way the module sends its scripts: built as a
 * {@link DeadlineCommand}, so a client's `commandTimeout` is kept by one timer per timeout value
 * instead of ioredis' timer per command.
 */
export class RawLock {
  private sha = '';

  constructor(
    readonly client: Redis,
    private readonly sendAsModule = false,
  ) {}

  async load(): Promise<void> {
    this.sha = (await this.client.script('LOAD', RAW_RELEASE_LUA)) as string;
  }

  /** Resolves with the owner token when taken, or `null` when held. */
  async acquire(key: string, ttl: number): Promise<string | null> {
    const token = cheapToken();
    const reply = this.sendAsModule
      ? await this.sendLikeModule('set', [key, token, 'PX', ttl, 'NX'])
      : await this.client.set(key, token, 'PX', ttl, 'NX');
    return reply === 'OK' ? token : null;
  }

  async release(key: string, token: string): Promise<boolean> {
    const reply = this.sendAsModule
      ? await this.sendLikeModule('evalsha', [this.sha, 1, key, token])
      : await this.client.evalsha(this.sha, 1, key, token);
    return Number(reply) === 1;
  }

  private sendLikeModule(name: string, args: Array<string | number>): Promise<unknown> {
    const command = new DeadlineCommand(name, args, { replyEncoding: 'utf8' });
    return this.client.sendCommand(command) as Promise<unknown>;
  }
}

/** A plain ioredis client (library defaults), connected. */
export async function connectedClient(url: string, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(url, { ...options, lazyConnect: true });
  await client.connect();
  return client;
}

export async function redisVersion(client: Redis): Promise<string> {
  const text = await client.info('server');
  return /redis_version:(\S+)/.exec(text)?.[1] ?? 'unknown';
}
