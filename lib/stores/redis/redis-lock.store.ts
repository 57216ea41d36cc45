import type { LoggerService } from '@nestjs/common';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { DEFAULT_KEY_PREFIX, STATE_TTL_MS } from '../../cron-lock.constants.js';
import { CronLockLogger, defaultLogger } from '../../cron-lock.logger.js';
import { LockStoreError } from '../../cron-lock.errors.js';
import type {
  AcquireRequest,
  AcquireResult,
  LockStore,
  ReleaseRequest,
  RenewRequest,
  RenewResult,
  StoredLockState,
} from '../../interfaces/lock-store.interface.js';
import { describeStoreError } from '../../utils/redact.js';
import { acquireLock } from './acquire.js';
import { inspectLock } from './inspect.js';
import { createLockClient, isRedisClient, secretsOf, type RedisInput } from './redis-connection.js';
import { releaseLock } from './release.js';
import { renewLock } from './renew.js';

/**
 * Options of {@link RedisLockStore}.
 *
 * @publicApi
 */
export interface RedisLockStoreOptions {
  /** Namespace of every key: `<keyPrefix>:{<job>}:lock` and `…:state`. Default `cron-lock`. */
  keyPrefix?: string;
  /** Where connection trouble is reported; `false` for nowhere. Default Nest's Logger. */
  logger?: LoggerService | false;
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
  private readyWait: Promise<void> | null = null;

  constructor(redis: RedisInput, options: RedisLockStoreOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    const logger = options.logger === undefined ? defaultLogger() : options.logger;
    this.log = new CronLockLogger(logger || null);
    this.secrets = secretsOf(redis);
    if (isRedisClient(redis)) {
      this.client = redis;
      this.ownsClient = false;
    } else {
      this.client = createLockClient(redis as string | RedisOptions);
      this.ownsClient = true;
      this.watchConnection(this.client);
    }
    const clientOptions = (this.client as Redis).options as RedisOptions | undefined;
    this.readyTimeout = clientOptions?.commandTimeout ?? 2_000;
  }

  /** The keys of one job; the braces make Redis Cluster keep them in one slot. */
  keysOf(name: string): { lock: string; state: string } {
    return {
      lock: `${this.keyPrefix}:{${name}}:lock`,
      state: `${this.keyPrefix}:{${name}}:state`,
    };
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const stateTtl = Math.max(STATE_TTL_MS, request.markerTtl ?? 0, request.ttl);
    return this.guard(() => acquireLock(this.client, this.keysOf(request.name), request, stateTtl));
  }

  async renew(request: RenewRequest): Promise<RenewResult> {
    return this.guard(() => renewLock(this.client, this.keysOf(request.name).lock, request));
  }

  async release(request: ReleaseRequest): Promise<boolean> {
    return this.guard(() => releaseLock(this.client, this.keysOf(request.name).lock, request));
  }

  async inspect(name: string): Promise<StoredLockState> {
    return this.guard(() => inspectLock(this.client, name, this.keysOf(name)));
  }

  async ping(): Promise<number> {
    return this.guard(async () => {
      const started = performance.now();
      await this.client.ping();
      return performance.now() - started;
    });
  }

  async close(): Promise<void> {
    if (!this.ownsClient || this.client.status === 'end') {
      return;
    }
    try {
      await this.client.quit();
    } catch {
      // Already disconnected: nothing left to close gracefully.
      this.client.disconnect();
    }
  }

  /**
   * Runs one store operation: waits (bounded) for our own client to be connected, and turns
   * any failure into a {@link LockStoreError} whose message carries no secret.
   */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      if (this.ownsClient) {
        await this.waitUntilReady();
      }
      return await operation();
    } catch (error) {
      if (error instanceof LockStoreError) {
        throw error;
      }
      throw new LockStoreError(describeStoreError(error, this.secrets));
    }
  }

  private waitUntilReady(): Promise<void> {
    const client = this.client;
    if (client.status === 'ready') {
      return Promise.resolve();
    }
    if (client.status === 'end') {
      return Promise.reject(new LockStoreError('Redis connection is closed'));
    }
    // One shared wait, however many ticks arrive while connecting (1,000 jobs on one
    // schedule must not add 1,000 listeners).
    this.readyWait ??= new Promise<void>((resolve, reject) => {
      if (client.status === 'wait') {
        // lazyConnect: connect on first use; failures surface as the timeout below.
        client.connect().catch(() => undefined);
      }
      const timer = setTimeout(() => {
        cleanup();
        reject(new LockStoreError(`Redis not connected (status ${client.status})`));
      }, this.readyTimeout);
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        this.readyWait = null;
      };
      client.on('ready', onReady);
    });
    return this.readyWait;
  }

  /**
   * Reports connection loss once and recovery once, instead of one line per reconnect attempt,
   * and keeps ioredis from printing raw errors (which may carry the connection options).
   */
  private watchConnection(client: Redis): void {
    client.on('error', (error: unknown) => {
      if (this.disconnectedSince === null) {
        this.disconnectedSince = Date.now();
        this.log.warn(`Redis connection error: ${describeStoreError(error, this.secrets)}`);
      }
    });
    client.on('ready', () => {
      if (this.disconnectedSince !== null) {
        const downFor = Date.now() - this.disconnectedSince;
        this.disconnectedSince = null;
        this.log.info(`Redis connection restored after ${downFor}ms`);
      }
    });
  }
}
