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

  /** This instance paused the job (`until`: ms, or `null` until resumed). */
  paused(name: string, until: number | null): void {
    this.ends.set(name, until);
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
    const now = Date.now();
    const names: string[] = [];
    for (const [name, end] of this.ends) {
      if (end !== null && end <= now) {
        this.ends.delete(name);
      } else {
        names.push(name);
      }
    }
    return names.sort();
  }
}
