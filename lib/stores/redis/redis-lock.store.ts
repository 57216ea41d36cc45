import type { LoggerService } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_KEY_PREFIX, STATE_TTL_MS } from '../../cron-lock.constants.js';
import { CronLockLogger, defaultLogger } from '../../observer/logger.js';
import { LockStoreError } from '../../cron-lock.errors.js';
import type {
  AcquireRequest,
  AcquireResult,
  HistoryEntry,
  JobSchedule,
  LockStore,
  PauseRequest,
  ReleaseRequest,
  RenewRequest,
  RenewResult,
  StoredLockState,
} from '../lock-store.interface.js';
import { acquireLock } from './acquire.js';
import { acquirePlainLock } from './acquire-plain.js';
import { inspectLock } from './inspect.js';
import { checkHistoryLimit, listJobNames, readHistory } from './history.js';
import { pauseJob, registerJob, resumeJob } from './pause.js';
import {
  connectionOptionsOf,
  createLockClient,
  isClusterClient,
  isReadOnlyReply,
  isRedisClient,
  quitOwnClient,
  secretsOf,
  type RedisInput,
} from './redis-connection.js';
import { describeRedisError, isServerRefusal } from './redis-errors.js';
import { refuseSubscribedClient, withClosedClientHint } from './client-state.js';
import { refusedSelectOf } from './database-select.js';
import { ReadyWait } from './ready-wait.js';
import { releaseLock } from './release.js';
import { releasePlainLock } from './release-plain.js';
import { renewLock } from './renew.js';
import { usePlainEvalsha, type ScriptTransport } from './ioredis/send.js';
import { checkRedisDeployment, checkRedisWritable } from './server-check.js';
import { pingClusterMasters } from './cluster-ping.js';
import { checkRedisSetting, checkStoreOptions } from './redis-options.js';
import { checkKeyPrefix } from '../../utils/key-prefix.js';
import { RedisTriggerChannel } from './trigger.js';
import { SilentConnectionCheck } from './silent-connection.js';
import { checkJobName, checkPauseRequest } from '../store-arguments.js';

/** Job names whose keys are kept built: above any app's jobs; bounds names `run()` generates. */
const KEY_CACHE_SIZE = 10_000;

/**
 * Options of {@link RedisLockStore}.
 *
 * @publicApi
 */
export interface RedisLockStoreOptions {
  /**
   * Namespace of every key: `<keyPrefix>:{<job>}:lock` and `…:state`. Default `cron-lock`.
   * Allowed: `[A-Za-z0-9._:-]{1,64}`, as for the module's `keyPrefix`.
   */
  keyPrefix?: string;
  /**
   * Where connection trouble is reported; `false` for nowhere. Default Nest's Logger. Async
   * methods are fine: a promise they return is not awaited, and its rejection is dropped.
   */
  logger?: LoggerService | false;
  /**
   * How script calls reach Redis. Default `'batched'`: the calls of one event-loop turn share one
   * socket write, through ioredis internals. `'plain'` uses `client.evalsha` only: the escape hatch
   * for an ioredis release whose internals changed. Set on a client passed in, it applies to it.
   */
  scriptTransport?: ScriptTransport;
}

/**
 * The production {@link LockStore}: one Lua script call per acquire, renew and release, on
 * standalone Redis, Sentinel or Cluster (every key of a job shares the `{<job>}` hash slot).
 *
 * Given a URL or options it creates its own client with {@link LOCK_CLIENT_DEFAULTS} and closes
 * it on `close()`. Given an existing `Redis`/`Cluster` client it reuses it and never closes it.
 *
 * @publicApi
 */
export class RedisLockStore implements LockStore {
  /** The ioredis client in use (yours, or the one this store created). */
  readonly client: Redis | Cluster;
  private readonly ownsClient: boolean;
  private readonly keyPrefix: string;
  private readonly secrets: string[];
  private readonly log: CronLockLogger;
  private readonly readyTimeout: number;
  private disconnectedSince: number | null = null;
  private lastConnectionError: string | null = null;
  private readonly readyWait: ReadyWait;
  private checkedDeployment = false;
  private readonly keys = new Map<string, readonly [string, string, string]>();
  private readonly silence: SilentConnectionCheck;
  readonly triggers: RedisTriggerChannel;
  readonly kind = 'redis';

  /**
   * @throws {@link CronLockConfigError} for options that are not an object, an unknown or empty
   *   option, a `keyPrefix`, `logger` or a connection the module would refuse too (one naming no
   *   server, as an unset variable gives), before any client is created.
   */
  constructor(redis: RedisInput, options: RedisLockStoreOptions = {}) {
    checkStoreOptions(options);
    this.keyPrefix =
      'keyPrefix' in options
        ? checkKeyPrefix('RedisLockStore', options.keyPrefix)
        : DEFAULT_KEY_PREFIX;
    const logger = options.logger === undefined ? defaultLogger() : options.logger;
    this.log = new CronLockLogger(logger || null);
    checkRedisSetting(redis, 'RedisLockStore');
    this.secrets = secretsOf(redis);
    if (isRedisClient(redis)) {
      this.client = redis;
      this.ownsClient = false;
    } else {
      this.client = createLockClient(redis);
      this.ownsClient = true;
      this.watchConnection(this.client);
    }
    this.readyTimeout = connectionOptionsOf(this.client)?.commandTimeout ?? 2_000;
    this.readyWait = new ReadyWait(this.client, this.ownsClient, this.readyTimeout, () => {
      return this.lastConnectionError;
    });
    if (options.scriptTransport === 'plain') {
      usePlainEvalsha(this.client);
    }
    this.silence = new SilentConnectionCheck(this.client, this.log);
    this.triggers = new RedisTriggerChannel(this.client, this.keyPrefix, this.log, {
      fail: this.fail,
      guard: <T>(command: () => Promise<T>) => this.guard(command),
    });
  }

  /** A job's keys as sent (an ioredis keyPrefix of the client goes before); braces: one slot. */
  keysOf(name: string): { lock: string; state: string; history: string } {
    const [lock, state, history] = this.keyPair(name);
    return { lock, state, history };
  }

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    if (request.plain === true && request.scheduledAt === undefined) {
      const [lock, state] = this.keyPair(request.name);
      return this.send(() => acquirePlainLock(this.client, [lock, state], request, this.fail));
    }
    // Twice the marker and lock ttl: the acquire refreshes it at half left (see ACQUIRE_SCRIPT).
    const stateTtl = Math.max(STATE_TTL_MS, 2 * (request.markerTtl ?? 0), 2 * request.ttl);
    const keys = this.keyPair(request.name);
    return this.send(() => acquireLock(this.client, keys, request, stateTtl, this.fail));
  }

  /**
   * Extends the lock. A `READONLY` reply rejects with a {@link LockStoreError} marked
   * `lockLost: true`: the server that held the lock was demoted in a failover, and whether the
   * new master has the lock depends on what asynchronous replication carried over, so the renewer
   * declares the lock lost now instead of retrying until its deadline.
   */
  renew(request: RenewRequest): Promise<RenewResult> {
    const [lock, state] = this.keyPair(request.name);
    return this.send(() => renewLock(this.client, [lock, state], request, this.failRenew));
  }

  release(request: ReleaseRequest): Promise<boolean> {
    const keys = this.keyPair(request.name);
    if (request.plain === true && !(request.keepFor && request.keepFor > 0)) {
      return this.send(() => releasePlainLock(this.client, keys[0], request.token, this.fail));
    }
    return this.send(() => releaseLock(this.client, keys, request, STATE_TTL_MS, this.fail));
  }

  async inspect(name: string): Promise<StoredLockState> {
    checkJobName('RedisLockStore', 'inspect', name);
    return this.guard(() => inspectLock(this.client, name, this.keysOf(name)));
  }

  /** Pauses the job fleet-wide (fields of its state hash, read by the acquire script). */
  async pause(name: string, pause: PauseRequest): Promise<void> {
    checkPauseRequest('RedisLockStore', name, pause);
    const [, state, history] = this.keyPair(name);
    return this.guard(() => pauseJob(this.client, [state, history], pause, STATE_TTL_MS));
  }

  async resume(name: string): Promise<boolean> {
    checkJobName('RedisLockStore', 'resume', name);
    return this.guard(() => resumeJob(this.client, this.keyPair(name)[1]));
  }

  async history(name: string, limit: number): Promise<HistoryEntry[]> {
    checkHistoryLimit('RedisLockStore', name, limit);
    return this.guard(() => readHistory(this.client, this.keyPair(name)[2], limit));
  }

  async registerJob(name: string, schedule: JobSchedule): Promise<void> {
    checkJobName('RedisLockStore', 'registerJob', name);
    const state = this.keyPair(name)[1];
    return this.guard(() => registerJob(this.client, state, schedule, STATE_TTL_MS));
  }

  /** Every job with state under the (client's + store's) key prefix, on every Cluster master. */
  listJobs(): Promise<string[]> {
    return this.guard(() => listJobNames(this.client, this.keyPrefix));
  }

  /**
   * Round trip to Redis, in ms. On a Cluster, one `PING` to every master in parallel (the
   * slowest one's time), rejecting when any slot's master is out of reach: each job's keys live
   * on one master. Rejects for a client the app subscribed with too: its `PING` passes, no lock
   * command does.
   */
  async ping(): Promise<number> {
    return this.guard(async () => {
      refuseSubscribedClient(this.client);
      const started = performance.now();
      if (isClusterClient(this.client)) {
        await pingClusterMasters(this.client, this.readyTimeout);
      } else {
        await this.client.ping();
      }
      return performance.now() - started;
    });
  }

  /**
   * Startup checks, run once when the app boots: warns when TLS certificate verification is off
   * (for a client passed in too), and when the server's `maxmemory-policy` may evict lock keys.
   * Says nothing more than a debug line when the policy is safe or `CONFIG` is refused (managed
   * services block it), and never fails.
   */
  async checkDeployment(): Promise<void> {
    if (this.checkedDeployment) {
      return;
    }
    this.checkedDeployment = true;
    await checkRedisDeployment(this.client, this.readyTimeout, this.log);
  }

  /** Rejects, naming the fix, on a replica or a master with `min-replicas-to-write` unmet. */
  checkWritable(): Promise<void> {
    const key = `${this.keyPrefix}:startup-write-check`;
    return this.guard(() => checkRedisWritable(this.client, key, this.readyTimeout));
  }

  async close(): Promise<void> {
    this.silence.stop(); // a check in flight must not reconnect a closing client
    await this.triggers.close(); // its own connection, whoever owns the lock client
    if (!this.ownsClient || this.client.status === 'end') {
      return;
    }
    await quitOwnClient(this.client);
  }

  /**
   * Sends one lock command: at once when connected (the command maps its own errors, see `fail`),
   * through {@link guard} when the client must first connect. Checked before each command
   * rather than by awaiting a resolved promise: the connected case costs no microtask hop.
   */
  private send<T>(command: () => Promise<T>): Promise<T> {
    return this.readyWait.needed() ? this.guard(command) : command();
  }

  /**
   * Runs one store operation the slow way: waits (bounded) for the client to be connected,
   * and turns any failure into a {@link LockStoreError} whose message carries no secret.
   */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      if (this.readyWait.needed()) {
        await this.readyWait.untilReady();
      }
      return await operation();
    } catch (error) {
      return this.fail(error);
    }
  }

  /** A Redis error as logged and thrown: no secret, an ACL hint naming the keys' prefix. */
  private describe(error: unknown): string {
    const text = describeRedisError(error, this.secrets, this.client, this.keyPrefix);
    return this.ownsClient ? text : withClosedClientHint(this.client, text);
  }

  /** Rejects with a {@link LockStoreError} whose message carries no secret. */
  private readonly fail = (error: unknown): never => {
    if (error instanceof LockStoreError) {
      throw error;
    }
    this.silence.failed(error); // a command timeout: is the connection half-open?
    throw new LockStoreError(this.describe(error), { answered: isServerRefusal(error) });
  };

  /** As {@link fail}, marking a `READONLY` reply as a lost lock (see {@link renew}). */
  private readonly failRenew = (error: unknown): never => {
    if (isReadOnlyReply(error)) {
      throw new LockStoreError(this.describe(error), { lockLost: true });
    }
    return this.fail(error);
  };

  /** `[lock, state, history]` of one job, kept: a flat string costs ioredis less than a join. */
  private keyPair(name: string): readonly [string, string, string] {
    let pair = this.keys.get(name);
    if (pair === undefined) {
      if (this.keys.size >= KEY_CACHE_SIZE) {
        this.keys.clear();
      }
      const head = `${this.keyPrefix}:{${name}}:`;
      pair = [`${head}lock`, `${head}state`, `${head}history`];
      this.keys.set(name, pair);
    }
    return pair;
  }

  /**
   * Reports connection loss once and recovery once, instead of one line per reconnect attempt,
   * and keeps ioredis from printing raw errors (which may carry the connection options).
   */
  private watchConnection(client: Redis): void {
    client.on('error', (error: unknown) => {
      // After a refused SELECT, the ready check failing on the dropped connection is no reason.
      this.lastConnectionError = this.describe(refusedSelectOf(client) ?? error);
      if (this.disconnectedSince === null) {
        this.disconnectedSince = Date.now();
        this.log.warn(`Redis connection error: ${this.lastConnectionError}`);
      }
    });
    client.on('ready', () => {
      this.lastConnectionError = null;
      if (this.disconnectedSince !== null) {
        const downFor = Date.now() - this.disconnectedSince;
        this.disconnectedSince = null;
        this.log.info(`Redis connection restored after ${downFor}ms`);
      }
    });
  }
}
