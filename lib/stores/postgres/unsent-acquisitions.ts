import { isNoConnection } from './postgres-connection.js';

/**
 * Most tokens kept: past that, the oldest give way, and their release goes to the database as
 * any other (an owner-checked no-op). As many as the runner keeps releases to send again.
 */
const MAX_KEPT = 10_000;

/**
 * Owner tokens of acquisitions whose statement never left this instance: no pooled connection came
 * within `operationTimeout`. Such an acquisition took nothing, so the release the runner sends
 * after any failed acquisition (in case a lost reply hid a lock) has nothing to free.
 *
 * Sent to the database, those releases would each wait for the same exhausted pool, fail in turn,
 * and be sent again every 250 ms to 2 s while the pool stays full: a burst of jobs on one schedule
 * that outgrew the pool once would keep it full with releases of locks nobody took, and the next
 * ticks' acquisitions would fail behind them on a healthy database.
 */
export class UnsentAcquisitions {
  private readonly tokens = new Set<string>();

  /** `acquisition`, noting its token when it failed for want of a pooled connection. */
  watch<T>(token: string, acquisition: Promise<T>): Promise<T> {
    return acquisition.catch((error: unknown) => {
      if (isNoConnection(error)) {
        if (this.tokens.size >= MAX_KEPT) {
          this.tokens.delete(this.tokens.values().next().value!);
        }
        this.tokens.add(token);
      }
      throw error;
    });
  }

  /** Whether `token`'s acquisition was never sent (asked once: its release is the only one). */
  take(token: string): boolean {
    return this.tokens.delete(token);
  }
}
