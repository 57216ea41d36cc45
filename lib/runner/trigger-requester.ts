import { randomUUID } from 'node:crypto';
import { CronLockConfigError, LockStoreError } from '../cron-lock.errors.js';
import { TRIGGER_NOT_LISTENING } from '../cron-lock.messages.js';
import type { CronLockRegistry } from '../cron-lock.registry.js';
import { withTimeout } from '../utils/with-timeout.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import type { TriggerChannel, TriggerReply } from '../stores/trigger.interface.js';
import { shownInstanceId } from '../utils/redact.js';
import { unrefTimer } from '../utils/unref-timer.js';
import { TRIGGER_BEFORE_BOUND } from './trigger.messages.js';

/** How long `trigger()` waits for an instance to take the request, by default. */
export const DEFAULT_TRIGGER_TIMEOUT_MS = 5_000;

/**
 * How long a claim on a trigger request lasts: far longer than the request takes to reach every
 * instance, so no late receiver can claim it again.
 */
export const TRIGGER_CLAIM_TTL_MS = 60_000;

/** While `wait` waits for a run to end: how often it checks that the run still holds its lock. */
const WAIT_CHECK_MS = 5_000;

/**
 * Why a triggered run did not happen: no instance with the job answered within the timeout
 * (`no-live-instance`), the job is `paused` (trigger it with `force`), or the reason the
 * instance that took the request skipped it (`held` by a run in progress, whatever the job's
 * `overlap` policy, `store-error` or `shutting-down`, or a lowercase token a newer version gives).
 *
 * @publicApi
 */
export type TriggerSkipReason = 'no-live-instance' | 'paused' | 'held' | (string & {});

/**
 * What {@link CronLockService.trigger} resolves with.
 *
 * @publicApi
 */
export type TriggerResult =
  | {
      ran: true;
      name: string;
      /** The instance that ran it. */
      instanceId: string;
      fencingToken: number;
      /** When the run started: its `ctx.scheduledAt`. */
      scheduledAt: Date;
      /**
       * With `wait`: how the run ended, as its history records it (`lost` when it lost its lock,
       * e.g. freed by `nestjs-cron-lock release`; `aborted` when its signal was aborted
       * otherwise: replaced by a later occurrence under `overlap: 'replace'`, or given up on by
       * its instance's shutdown, which the history does not record; `unknown` when the instance
       * stopped answering
       * and its lock is gone, e.g. it crashed, or when this app closed before the run ended).
       * Absent without `wait`: the run had started.
       */
      outcome?: 'completed' | 'failed' | 'lost' | 'aborted' | 'unknown';
      /** With `wait`, when known: how long the run took, in ms. */
      durationMs?: number;
    }
  | {
      ran: false;
      name: string;
      reason: TriggerSkipReason;
      /** The instance that took the request, when one did. */
      instanceId?: string;
    };

/** A store that can carry triggers. */
export type TriggerStore = LockStore & { readonly triggers: TriggerChannel };

export function canTrigger(store: LockStore): store is TriggerStore {
  const channel = store.triggers;
  return (
    typeof channel === 'object' &&
    channel !== null &&
    typeof channel.publish === 'function' &&
    typeof channel.subscribe === 'function' &&
    typeof channel.claim === 'function'
  );
}

/** A resolved `trigger()` call. */
export interface TriggerCall {
  name: string;
  force: boolean;
  /** ms to wait for an instance to take it. */
  timeout: number;
  wait: boolean;
}

/**
 * Waits for the caller's subscription, at most the call's timeout: `null` once it listens, else
 * what failed. A store that takes the connection but never answers (a partition) fails only
 * through this timeout, reported as the store failure `trigger()` documents.
 */
export function listenWithin(
  listening: Promise<unknown>,
  call: TriggerCall,
  label: string,
): Promise<{ error: unknown } | null> {
  return withTimeout(listening, call.timeout, '').then(
    () => null,
    (error: unknown) => ({
      error:
        error instanceof LockStoreError
          ? error
          : new LockStoreError(TRIGGER_NOT_LISTENING(label, call.timeout)),
    }),
  );
}

/**
 * Sends an app's request. Before CronLockModule bound the app's jobs, this instance's receiver
 * passes every request by, not knowing its jobs yet: the request is sent now all the same
 * (another instance may have the job), and again once they are bound, so this one may take it.
 */
export async function requestFromApp(
  requester: TriggerRequester,
  call: TriggerCall,
  registry: CronLockRegistry,
  label: string,
): Promise<TriggerResult> {
  if (registry.bound) {
    return requester.request(call, registry.get(call.name) !== undefined);
  }
  const bindsLater = registry.whenBound(call.timeout);
  const result = await requester.request(call, false, bindsLater);
  if (!result.ran && result.reason === 'no-live-instance' && !registry.bound) {
    // Nobody took it, and the jobs were still not bound: awaited where it holds up that binding
    // (an earlier module's onModuleInit), the call can never reach the instance that made it.
    throw new CronLockConfigError(TRIGGER_BEFORE_BOUND(label, call.timeout));
  }
  return result;
}

/**
 * The sending side of a trigger, for the service and the CLI: publishes a request and waits for
 * the replies of the instance that claims it. The caller listens on the channel (one subscription
 * for everything) and hands every reply to {@link onReply}.
 */
export class TriggerRequester {
  private readonly waiting = new Map<string, ReplyQueue>();
  private closed = false;

  /**
   * @param holdProcess whether the waits keep the process alive: the CLI's must, since nothing
   *   else may be left to (its connections do not reconnect, and a pooled one comes and goes),
   *   and Node would end the command mid-wait, printing nothing. An app's never do.
   */
  constructor(
    private readonly store: TriggerStore,
    private readonly holdProcess = false,
  ) {}

  onReply(reply: TriggerReply): void {
    this.waiting.get(reply.id)?.push(reply);
  }

  /**
   * The caller is closing: its replies stop coming, and its store may be closed. Every request
   * in flight settles now: `shutting-down` when no instance had answered yet, `unknown` when its
   * run had started. New requests answer `shutting-down`.
   */
  close(): void {
    this.closed = true;
    for (const replies of this.waiting.values()) {
      replies.close();
    }
  }

  /**
   * Sends the request; the caller must be listening already (its own subscriber counts as one
   * receiver). `runsHere` says whether the caller itself may take the request. `bindsLater`, for
   * a caller whose jobs are not bound yet (so it cannot tell whether it has this one): resolves
   * `true` once they are, and the request is then sent again, so this instance may take it too.
   */
  async request(
    call: TriggerCall,
    runsHere: boolean,
    bindsLater?: Promise<boolean>,
  ): Promise<TriggerResult> {
    const { name } = call;
    if (this.closed) {
      return { ran: false, name, reason: 'shutting-down' };
    }
    const id = randomUUID();
    const replies = new ReplyQueue(this.holdProcess);
    this.waiting.set(id, replies);
    const publish = (): Promise<number | null> =>
      this.store.triggers.publish({ kind: 'request', id, name, force: call.force });
    const sentAt = performance.now();
    try {
      const receivers = await publish();
      // The same id again: its claim lets one instance run it however often it is heard. Not
      // after the claim of a first taker may have expired, nor once this call has settled, nor
      // once the caller closed: the first send may end after the close, and this call is still
      // waiting then, but its answer is already `shutting-down` and the store may be closed or
      // the user's own.
      void bindsLater?.then((bound) => {
        if (
          bound &&
          !this.closed &&
          this.waiting.has(id) &&
          performance.now() - sentAt < TRIGGER_CLAIM_TTL_MS / 2
        ) {
          publish().catch(() => undefined);
        }
      });
      // Only our own subscriber heard it: nobody else can answer, so no need to wait.
      if (receivers !== null && receivers <= 1 && !runsHere && bindsLater === undefined) {
        return { ran: false, name, reason: 'no-live-instance' };
      }
      const first = await replies.next(call.timeout);
      if (first === null) {
        // Closed, an instance may still take it: this caller can no longer tell.
        return { ran: false, name, reason: replies.closed ? 'shutting-down' : 'no-live-instance' };
      }
      // A reply may name a connection string as its id (the channel takes one, as every output
      // redacts it): the caller (an app's code, the CLI) prints what it is given.
      const instanceId = shownInstanceId(first.instanceId);
      if (first.status === 'skipped') {
        return { ran: false, name, reason: first.reason, instanceId };
      }
      const ran = {
        ran: true as const,
        name,
        instanceId,
        fencingToken: first.fencingToken,
        scheduledAt: new Date(first.status === 'started' ? first.scheduledAt : Date.now()),
      };
      if (first.status === 'finished') {
        return { ...ran, outcome: first.outcome, durationMs: first.durationMs };
      }
      if (!call.wait) {
        return ran;
      }
      return await this.waitForEnd(ran, replies);
    } finally {
      this.waiting.delete(id);
    }
  }

  /**
   * Waits for the run's `finished` reply, checking now and then that it still holds its lock: an
   * instance that dies mid-run sends nothing, and the wait must still end.
   */
  private async waitForEnd(
    ran: Extract<TriggerResult, { ran: true }>,
    replies: ReplyQueue,
  ): Promise<TriggerResult> {
    let lockGone = false;
    for (;;) {
      const reply = await replies.next(lockGone ? 2_000 : WAIT_CHECK_MS);
      if (reply?.status === 'finished') {
        return { ...ran, outcome: reply.outcome, durationMs: reply.durationMs };
      }
      if (reply !== null) {
        continue;
      }
      // Closed: the run goes on, but its `finished` reply can no longer reach this caller.
      if (lockGone || replies.closed) {
        return { ...ran, outcome: 'unknown' };
      }
      try {
        const state = await this.store.inspect(ran.name);
        lockGone = state.ttlLeft === null || state.fencingToken !== ran.fencingToken;
      } catch {
        // The store is away (or closed, which the next turn sees): keep waiting for the reply.
      }
    }
  }
}

/** The replies to one request, in order, each read once. */
class ReplyQueue {
  private readonly queued: TriggerReply[] = [];
  private wake: (() => void) | null = null;
  /** No reply comes any more: every wait ends at once. */
  closed = false;

  constructor(private readonly holdProcess: boolean) {}

  push(reply: TriggerReply): void {
    this.queued.push(reply);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  /** The next reply, or `null` after `timeout` ms without one (at once when closed). */
  async next(timeout: number): Promise<TriggerReply | null> {
    if (this.queued.length === 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeout);
        if (!this.holdProcess) {
          // An app's wait must not keep it alive: the channel's connection does while it is open.
          unrefTimer(timer);
        }
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
    return this.queued.shift() ?? null;
  }
}
