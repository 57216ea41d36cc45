import { Inject, Injectable } from '@nestjs/common';
import { CRON_LOCK_OPTIONS, CRON_LOCK_STORE, LOCK_NAME_PATTERN } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import {
  DURATION_TOO_LONG,
  INVALID_LOCK_NAME,
  INVALID_OPTION,
  INVALID_OPTIONS_OBJECT,
  SERVICE_CALL,
  TRIGGER_LISTEN_FAILED,
  TRIGGER_LISTENING_AGAIN,
  TRIGGER_UNSUPPORTED,
  UNKNOWN_OPTION,
} from '../cron-lock.messages.js';
import { CronLockRegistry, type BoundJob } from '../cron-lock.registry.js';
import { originalMethodOf } from '../decorators/lock-method.js';
import { CronLockLogger } from '../observer/logger.js';
import { RunObserver } from '../observer/run-observer.js';
import type { ResolvedCronLockOptions } from '../options/module-options.js';
import type { LockStore, RunStatus } from '../stores/lock-store.interface.js';
import type {
  TriggerMessage,
  TriggerReply,
  TriggerRequest,
  TriggerSubscription,
} from '../stores/trigger.interface.js';
import { didYouMean } from '../utils/did-you-mean.js';
import { rejectEmptyOptions } from '../utils/empty-options.js';
import { MAX_DURATION_MS, parseDuration, type Duration } from '../utils/duration.js';
import { describeStoreError } from '../utils/redact.js';
import { unrefTimer } from '../utils/unref-timer.js';
import { withTimeout } from '../utils/with-timeout.js';
import type { LockContext } from './lock-context.interface.js';
import { endedOutcome } from './run-record.js';
import { RunTracker } from './run-tracker.js';
import {
  canTrigger,
  DEFAULT_TRIGGER_TIMEOUT_MS,
  listenWithin,
  requestFromApp,
  TRIGGER_CLAIM_TTL_MS,
  TriggerRequester,
  type TriggerCall,
  type TriggerResult,
  type TriggerStore,
} from './trigger-requester.js';
import { TRIGGER_REFUSED, TRIGGER_TAKEN } from './trigger.messages.js';

/**
 * Options of {@link CronLockService.trigger}.
 *
 * @publicApi
 */
export interface TriggerOptions {
  /** Run it even while the job is paused. Default `false`: a paused job answers `paused`. */
  force?: boolean;
  /**
   * How long to wait for an instance with the job to take the request before answering
   * `no-live-instance`. Default `'5s'`.
   */
  timeout?: Duration;
  /** Resolve when the run has ended (with its `outcome`), not when it has started. Default `false`. */
  wait?: boolean;
}

const TRIGGER_OPTION_KEYS = ['force', 'timeout', 'wait'] as const;
/** What leaving each option out gives, for the error on one present but empty. */
const TRIGGER_OPTION_DEFAULTS = {
  force: 'the default false',
  timeout: "the default '5s'",
  wait: 'the default false',
};

/** The wait before a failed bootstrap subscription is tried again, doubled up to the max. */
const RELISTEN_FIRST_MS = 1_000;
const RELISTEN_MAX_MS = 30_000;
/** How long shutdown waits for the subscription to close (listening first, if still opening). */
const SUBSCRIPTION_CLOSE_LIMIT_MS = 2_000;

/**
 * Both sides of `CronLockService.trigger()` on one instance: it sends requests and waits for
 * their replies, and it takes the requests of the fleet for the jobs this app has. One listening
 * subscription per app, opened at bootstrap when the app has jobs (or at the first `trigger()`
 * call), closed at shutdown.
 */
@Injectable()
export class TriggerDispatcher {
  private subscription: Promise<TriggerSubscription> | null = null;
  private requester: TriggerRequester | null = null;
  private stopped = false;
  /** The next try of a bootstrap subscription that failed, and the wait before the one after. */
  private relisten: ReturnType<typeof setTimeout> | null = null;
  private relistenDelay = RELISTEN_FIRST_MS;
  /** A failed subscription was logged, and listening again not yet: one line per outage. */
  private listenFailed = false;
  private readonly log: CronLockLogger;

  constructor(
    @Inject(CRON_LOCK_OPTIONS) private readonly options: ResolvedCronLockOptions,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
    private readonly registry: CronLockRegistry,
    private readonly tracker: RunTracker,
    private readonly observer: RunObserver,
  ) {
    this.log = new CronLockLogger(options.logger);
  }

  /** Listens for the fleet's triggers when this app has jobs to run (never fails the bootstrap). */
  start(): void {
    if (this.registry.all().length > 0 && canTrigger(this.store)) {
      this.keepListening(this.store);
    }
  }

  /** Takes no new trigger requests (the app is closing). */
  stop(): void {
    this.stopped = true;
    this.stopRelisten();
  }

  /** Settles this app's requests in flight and stops listening, before the store closes. */
  async close(): Promise<void> {
    this.stopped = true;
    this.stopRelisten();
    this.requester?.close();
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription === null) {
      return;
    }
    // Bounded: a subscription still being opened on a store that stops answering (Redis: a
    // SUBSCRIBE in the subscriber's offline queue) settles only when the store closes, which
    // comes after this; it is closed whenever it does listen.
    const closing = subscription.then((listening) => listening.close()).catch(() => undefined);
    await withTimeout(closing, SUBSCRIPTION_CLOSE_LIMIT_MS, 'unanswered').catch(() => undefined);
  }

  async trigger(name: string, options?: TriggerOptions): Promise<TriggerResult> {
    const call = checkTriggerCall(name, options);
    const store = this.store;
    if (!canTrigger(store)) {
      throw new CronLockConfigError(TRIGGER_UNSUPPORTED(triggerLabel(name)));
    }
    if (this.stopped || this.tracker.isShuttingDown) {
      return { ran: false, name, reason: 'shutting-down' };
    }
    // The app may start closing while this call subscribes: its replies can no longer arrive
    // then, so a request sent anyway could run the job and still be answered `no-live-instance`,
    // and a subscription the close ended rejects with the channel's "closed" error.
    const failed = await listenWithin(this.listen(store), call, triggerLabel(name));
    if (this.stopped) {
      return { ran: false, name, reason: 'shutting-down' };
    }
    if (failed !== null) {
      throw failed.error;
    }
    this.requester ??= new TriggerRequester(store);
    return requestFromApp(this.requester, call, this.registry, triggerLabel(name));
  }

  /**
   * Subscribes until it listens: a store that does not answer at bootstrap (a fleet restarted
   * with its Redis or PostgreSQL) must not leave this instance deaf to the fleet's triggers until
   * it calls trigger() itself. Tried again with a growing wait, logged once per outage.
   */
  private keepListening(store: TriggerStore): void {
    this.relisten = null;
    if (this.stopped) {
      return;
    }
    this.listen(store).catch((error: unknown) => {
      if (this.stopped || this.relisten !== null) {
        return;
      }
      if (!this.listenFailed) {
        this.listenFailed = true;
        this.log.warn(TRIGGER_LISTEN_FAILED(describeStoreError(error), RELISTEN_MAX_MS));
      }
      const delay = this.relistenDelay;
      this.relistenDelay = Math.min(delay * 2, RELISTEN_MAX_MS);
      this.relisten = setTimeout(() => this.keepListening(store), delay);
      // A retry never keeps the process alive by itself.
      unrefTimer(this.relisten);
    });
  }

  private stopRelisten(): void {
    clearTimeout(this.relisten ?? undefined);
    this.relisten = null;
  }

  private listen(store: TriggerStore): Promise<TriggerSubscription> {
    if (this.subscription === null) {
      const subscribing = store.triggers.subscribe((message) => this.onMessage(message));
      this.subscription = subscribing;
      subscribing.then(
        () => {
          // Whoever subscribed (the retry or a trigger() call), the retry is no longer needed.
          this.stopRelisten();
          this.relistenDelay = RELISTEN_FIRST_MS;
          if (this.listenFailed && this.subscription === subscribing) {
            this.listenFailed = false;
            this.log.info(TRIGGER_LISTENING_AGAIN);
          }
        },
        () => {
          // Tried again by the retry of start() and by the next trigger() call.
          if (this.subscription === subscribing) {
            this.subscription = null;
          }
        },
      );
    }
    return this.subscription;
  }

  private onMessage(message: TriggerMessage): void {
    if (message.kind === 'reply') {
      this.requester?.onReply(message);
      return;
    }
    const bound = this.registry.get(message.name);
    // An instance that is closing leaves the request to the others.
    if (bound !== undefined && !this.stopped && !this.tracker.isShuttingDown) {
      void this.take(message, bound).catch((error: unknown) =>
        this.log.warn(`${message.name}: trigger not handled: ${describeStoreError(error)}`),
      );
    }
  }

  /**
   * Races the other instances on the request's claim; the winner runs the job through its lock
   * (as a manual run: `ctx.trigger === 'manual'`) and says what happened on the channel and in
   * its log: taken (with the `triggered` event) once the run starts, or refused and why.
   */
  private async take(request: TriggerRequest, bound: BoundJob): Promise<void> {
    const store = this.store as TriggerStore;
    const { id, name } = request;
    const instanceId = this.options.instanceId;
    // A store error is a lost race: the request waits for another instance, or times out.
    const claimed = await store.triggers.claim(name, id, instanceId, TRIGGER_CLAIM_TTL_MS);
    if (!claimed) {
      return;
    }
    const reply = (body: DistributiveOmit<TriggerReply, 'kind' | 'id' | 'name' | 'instanceId'>) =>
      store.triggers
        .publish({ kind: 'reply', id, name, instanceId, ...body } as TriggerReply)
        .catch((error: unknown) =>
          this.log.warn(`${name}: trigger reply not sent: ${describeStoreError(error)}`),
        );
    const original = originalMethodOf(bound.method);
    if (!original) {
      return;
    }
    let started: { at: number; fencingToken: number; ctx: LockContext } | null = null;
    const run = (ctx: LockContext): unknown => {
      started = { at: performance.now(), fencingToken: ctx.fencingToken, ctx };
      // Said only now that the lock let it run: the claim alone says nothing of a pause (read by
      // the acquisition), and a "taken" line before a refusal reads as a run that never was.
      this.log.info(TRIGGER_TAKEN(name, request.force));
      if (this.observer.events.has('triggered')) {
        this.observer.events.emit('triggered', {
          name,
          scheduledAt: null,
          instanceId,
          requestId: id,
          forced: request.force,
        });
      }
      void reply({
        status: 'started',
        fencingToken: ctx.fencingToken,
        scheduledAt: ctx.scheduledAt.getTime(),
      });
      return original.call(bound.instance, ctx);
    };
    let status: RunStatus = 'completed';
    try {
      // A paused job is refused by the acquisition itself (`paused`), unless forced.
      const job = request.force ? { ...bound.binding.job, force: true } : bound.binding.job;
      const result = await bound.binding.runner.execute(job, undefined, run);
      if (!result.ran) {
        this.log.info(TRIGGER_REFUSED(name, result.reason));
        await reply({ status: 'skipped', reason: result.reason });
        return;
      }
    } catch {
      // What the job threw is logged and emitted by the runner as any run's failure.
      status = 'failed';
    }
    const ran = started as { at: number; fencingToken: number; ctx: LockContext } | null;
    if (ran !== null) {
      const durationMs = Math.round(performance.now() - ran.at);
      const outcome = endedOutcome(ran.ctx, status);
      await reply({ status: 'finished', fencingToken: ran.fencingToken, outcome, durationMs });
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function triggerLabel(name: unknown): string {
  return SERVICE_CALL('trigger', name);
}

/** The checked arguments of `trigger()`; throws {@link CronLockConfigError} naming the fix. */
function checkTriggerCall(name: string, options: TriggerOptions | undefined): TriggerCall {
  const label = triggerLabel(name);
  if (typeof name !== 'string' || !LOCK_NAME_PATTERN.test(name)) {
    throw new CronLockConfigError(INVALID_LOCK_NAME(label, name));
  }
  if (options === undefined) {
    return { name, force: false, timeout: DEFAULT_TRIGGER_TIMEOUT_MS, wait: false };
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CronLockConfigError(INVALID_OPTIONS_OBJECT(label, options, true));
  }
  for (const key of Object.keys(options)) {
    if (!(TRIGGER_OPTION_KEYS as readonly string[]).includes(key)) {
      const suggestion = didYouMean(key, TRIGGER_OPTION_KEYS);
      throw new CronLockConfigError(UNKNOWN_OPTION(label, key, suggestion, TRIGGER_OPTION_KEYS));
    }
  }
  rejectEmptyOptions(label, options, TRIGGER_OPTION_DEFAULTS);
  const { force = false, wait = false, timeout: rawTimeout } = options;
  for (const [option, value] of [
    ['force', force],
    ['wait', wait],
  ] as const) {
    if (typeof value !== 'boolean') {
      throw new CronLockConfigError(INVALID_OPTION(label, option, 'true or false', value));
    }
  }
  let timeout = DEFAULT_TRIGGER_TIMEOUT_MS;
  if (rawTimeout !== undefined) {
    const parsed = parseDuration(rawTimeout);
    if (parsed === undefined || parsed <= 0) {
      throw new CronLockConfigError(
        INVALID_OPTION(label, 'timeout', "a positive duration such as '5s'", rawTimeout),
      );
    }
    if (parsed > MAX_DURATION_MS) {
      throw new CronLockConfigError(
        DURATION_TOO_LONG(label, 'timeout', rawTimeout, parsed, MAX_DURATION_MS),
      );
    }
    timeout = parsed;
  }
  return { name, force, timeout, wait };
}
