import { LOCK_NAME_PATTERN } from '../cron-lock.constants.js';
import { isInstanceIdText } from '../options/instance-id.js';
import { isDateMs } from '../utils/occurrence.js';
import { HISTORY_OUTCOMES } from './history-entries.js';

/**
 * Asks the fleet to run job `name` now. Every instance listening receives it; those that have
 * the job race on {@link TriggerChannel.claim} for `id`, and the one winner runs it.
 */
export interface TriggerRequest {
  kind: 'request';
  /** Unique per request: what the claim and the replies are keyed by. */
  id: string;
  /** The job's lock name. */
  name: string;
  /** Run it even while the job is paused. */
  force: boolean;
}

/** What the instance that claimed a request says about it, on the same channel. */
export type TriggerReply = {
  kind: 'reply';
  /** The request answered. */
  id: string;
  name: string;
  /** The instance that claimed the request. */
  instanceId: string;
} & (
  | {
      /** The run started under the lock. */
      status: 'started';
      fencingToken: number;
      /** When the run started (ms since epoch): its `ctx.scheduledAt`. */
      scheduledAt: number;
    }
  | {
      /** The run ended. */
      status: 'finished';
      fencingToken: number;
      /**
       * As the job's history records the run: `lost` when it lost its lock (freed by a release,
       * or not renewed in time) and `aborted` when its signal was aborted otherwise (replaced by
       * a later occurrence under `overlap: 'replace'`, or given up on by its instance's shutdown,
       * which the history does not record), whatever the job returned.
       */
      outcome: 'completed' | 'failed' | 'lost' | 'aborted';
      durationMs: number;
    }
  | {
      /**
       * The run did not happen, and why: a `SkipReason` (`paused`, `held`, `store-error`,
       * `shutting-down`…), or one a newer version gives; a reply whose reason is not a short
       * lowercase token ({@link SKIP_REASON_TEXT}) is not taken.
       */
      status: 'skipped';
      reason: string;
    }
);

/** One message of the trigger channel. */
export type TriggerMessage = TriggerRequest | TriggerReply;

/**
 * A store's channel for `CronLockService.trigger()`: every instance of a prefix (or table)
 * listens on it; nothing is polled for requests (a store may check its listening connection).
 *
 * @publicApi
 */
export interface TriggerChannel {
  /**
   * Sends `message` to every listener; resolves with how many received it (the sender's own
   * listener included), or `null` when the store cannot tell (a Redis Cluster node counts its
   * own listeners only).
   */
  publish(message: TriggerMessage): Promise<number | null>;
  /**
   * Calls `listener` with every message, over one listening connection per store however many
   * listen; resolves once listening.
   */
  subscribe(listener: (message: TriggerMessage) => void): Promise<TriggerSubscription>;
  /**
   * Claims request `id` of job `name` for `instanceId`: `true` for exactly one caller per id
   * across the fleet, for `ttl` ms at least.
   */
  claim(name: string, id: string, instanceId: string, ttl: number): Promise<boolean>;
}

/** A listener of the trigger channel, as returned by {@link TriggerChannel.subscribe}. */
export interface TriggerSubscription {
  /** Stops listening; the store closes its listening connection once nobody listens. */
  close(): Promise<void>;
}

/**
 * A skip reason a reply may give: a lowercase token of at most 32 characters, as every
 * `SkipReason` is. Not only today's reasons, so a newer version's new one reaches the caller
 * during a rolling deploy; such a token carries no escape, space or URL.
 */
export const SKIP_REASON_TEXT = /^[a-z][a-z-]{0,31}$/;

/**
 * A message read from the channel, or `null` for anything this version does not write: the
 * channel is shared by every instance of a prefix (several versions during a rolling deploy,
 * anyone who may PUBLISH), so nothing read from it is trusted. A reply must carry each field of
 * its status with its type and within its domain, and an instance id as the module takes its own:
 * the requester passes them on to `trigger()`'s result, the CLI and the dashboard print them.
 */
export function parseTriggerMessage(text: string): TriggerMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const message = value as Record<string, unknown>;
  if (
    typeof message.id !== 'string' ||
    !/^[A-Za-z0-9-]{1,64}$/.test(message.id) ||
    typeof message.name !== 'string' ||
    !LOCK_NAME_PATTERN.test(message.name)
  ) {
    return null;
  }
  if (message.kind === 'request') {
    return typeof message.force === 'boolean' ? (message as unknown as TriggerRequest) : null;
  }
  if (message.kind === 'reply' && isInstanceIdText(message.instanceId) && isValidReply(message)) {
    return message as unknown as TriggerReply;
  }
  return null;
}

/** The fields of a reply's status, each with the type and domain the sender writes. */
function isValidReply(reply: Record<string, unknown>): boolean {
  switch (reply.status) {
    // A fencing token counts from 1 in the stores; a run `onStoreError: 'run'` started without
    // the lock has 0.
    case 'started':
      // When the run started: trigger() makes it a Date.
      return isNonNegativeInteger(reply.fencingToken) && isDateMs(reply.scheduledAt);
    case 'finished':
      return (
        isNonNegativeInteger(reply.fencingToken) &&
        typeof reply.outcome === 'string' &&
        HISTORY_OUTCOMES.has(reply.outcome) &&
        // Whole ms: the sender rounds what it measured.
        isNonNegativeInteger(reply.durationMs)
      );
    case 'skipped':
      return typeof reply.reason === 'string' && SKIP_REASON_TEXT.test(reply.reason);
    default:
      return false;
  }
}

function isNonNegativeInteger(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Adds `listener` to a channel's `listeners` and opens the channel's connection (`open`); the
 * subscription's `close` removes it again and closes the connection with the last listener. A
 * connection that cannot be opened takes the listener back out and rejects through `fail`.
 */
export async function subscribeListener(
  listeners: Set<(message: TriggerMessage) => void>,
  listener: (message: TriggerMessage) => void,
  channel: { open(): Promise<void>; close(): Promise<void> },
  fail: (error: unknown) => never,
): Promise<TriggerSubscription> {
  listeners.add(listener);
  const subscription: TriggerSubscription = {
    close: async () => {
      listeners.delete(listener);
      if (listeners.size === 0) {
        await channel.close();
      }
    },
  };
  try {
    await channel.open();
  } catch (error) {
    await subscription.close();
    return fail(error);
  }
  return subscription;
}
