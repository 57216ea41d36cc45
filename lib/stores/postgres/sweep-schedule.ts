/** How often one store's releases sweep, at most, while its sweeps find less than a full batch. */
export const SWEEP_INTERVAL_MS = 1_000;

/**
 * When a store's next cron-path release also sweeps expired rows and history entries (see
 * releaseSql). The sweep keeps the tables bounded without a cleanup job; it nearly always finds
 * nothing, yet its steps cost the server on every release that carries them. So a release sweeps
 * when the store's last sweep is at least {@link SWEEP_INTERVAL_MS} old, and at once again after
 * a sweep that found a full batch (more may be left) or failed: a backlog is deleted a batch per
 * release, as fast as when every release swept.
 */
export class SweepSchedule {
  private dueAt = 0;

  /** Whether a release starting now sweeps; if it does, the next one waits for the interval. */
  take(now = performance.now()): boolean {
    if (now < this.dueAt) {
      return false;
    }
    this.dueAt = now + SWEEP_INTERVAL_MS;
    return true;
  }

  /** A sweep found a full batch, or its release failed: the next release sweeps. */
  again(): void {
    this.dueAt = 0;
  }
}
