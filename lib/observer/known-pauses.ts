/** Pauses known before the first sweep of ended ones: more than an app's own jobs, as a rule. */
const FIRST_SWEEP_AT = 1_000;

/**
 * The jobs paused fleet-wide as this instance last learned it, with when each pause ends when the
 * instance knows it: its own `pause()` says `until`, while a store's answer to a tick only says
 * "paused now". Read without a round trip (metrics, health), so a pause this instance knows to be
 * over must not be reported after its end: an instance that does not run the job (or runs it
 * rarely) gets no tick to correct it.
 */
export class KnownPauses {
  /** Job name → end of its pause (ms, this instance's wall clock), `null` when not known. */
  private readonly ends = new Map<string, number | null>();
  /**
   * The size at which the next pause drops the ended ones. An app that pauses one entity's lock
   * at a time (`pause('sync:<tenant>', { until })`) names a new job at each pause, and only a read
   * of {@link names} (a metrics scrape, a health check) dropped ended pauses: an app without
   * either kept every name it ever paused. Doubled from what is left, so a sweep costs O(1) per
   * pause over time.
   */
  private sweepAt = FIRST_SWEEP_AT;

  /** This instance paused the job (`until`: ms, or `null` until resumed). */
  paused(name: string, until: number | null): void {
    this.ends.set(name, until);
    if (this.ends.size >= this.sweepAt) {
      this.dropEnded(Date.now());
      this.sweepAt = Math.max(FIRST_SWEEP_AT, 2 * this.ends.size);
    }
  }

  /**
   * A store answered that the job is paused now. An end this instance set itself and that is
   * still ahead stays: the answer does not say when the pause ends.
   */
  answeredPaused(name: string): void {
    const end = this.ends.get(name);
    if (end === undefined || end === null || end <= Date.now()) {
      this.ends.set(name, null);
    }
  }

  /** The job is paused now as far as this instance knows (a pause past its known end is not). */
  has(name: string): boolean {
    const end = this.ends.get(name);
    return end === null || (end !== undefined && end > Date.now());
  }

  /** The job is not paused (resumed here, or a store's answer said so). */
  notPaused(name: string): void {
    this.ends.delete(name);
  }

  /** The jobs paused now as far as this instance knows, sorted; pauses past their end dropped. */
  names(): string[] {
    this.dropEnded(Date.now());
    return [...this.ends.keys()].sort();
  }

  private dropEnded(now: number): void {
    for (const [name, end] of this.ends) {
      if (end !== null && end <= now) {
        this.ends.delete(name);
      }
    }
  }
}
