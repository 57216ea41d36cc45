import { unrefTimer } from './unref-timer.js';

/** The longest wait between two checks of a listening connection. */
const MAX_CHECK_INTERVAL_MS = 30_000;

/** Checks run at most once a second, whatever the timeout. */
const MIN_CHECK_INTERVAL_MS = 1_000;

/**
 * Between two checks of a listening connection: ten times the `timeout` a check may wait for its
 * answer, at most 30 s (20 s with the stores' default of 2 s). A dead connection is then noticed
 * within the interval plus `timeout`, and the check is a small share of a slow link's time.
 */
export function checkInterval(timeout: number): number {
  return Math.min(MAX_CHECK_INTERVAL_MS, Math.max(MIN_CHECK_INTERVAL_MS, 10 * timeout));
}

/** The checks of one listening connection, while it listens. */
export interface Liveness {
  /** Ends the checks: a check in flight is ignored, none is sent again. */
  stop(): void;
}

/**
 * Runs `check` every {@link checkInterval} of `timeout`, and calls `dead` once with its failure,
 * then stops. `check` is one round trip on the listening connection, bounded by `timeout` by the
 * caller (each driver has its own way to give up on a command).
 *
 * A connection that only listens carries nothing while nobody triggers, so one that a network
 * silently forgot (a partition, a NAT or load balancer dropping an idle flow, a frozen proxy) is
 * never reported broken by TCP, which only notices a dead peer when it has something to send:
 * only a round trip tells. One check is in flight at a time, and the timer is unref'd: it keeps no
 * process alive.
 */
export function watchConnection(
  check: () => Promise<unknown>,
  timeout: number,
  dead: (error: unknown) => void,
): Liveness {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const schedule = (): void => {
    timer = setTimeout(run, checkInterval(timeout));
    unrefTimer(timer);
  };
  const run = (): void => {
    timer = null;
    check().then(
      () => {
        if (!stopped) {
          schedule();
        }
      },
      (error: unknown) => {
        if (!stopped) {
          stopped = true;
          dead(error);
        }
      },
    );
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
    },
  };
}
