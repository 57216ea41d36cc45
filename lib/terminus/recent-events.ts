/** One remembered event: when (monotonic, for windows; wall clock, for people) and what. */
export interface RecentEvent<T> {
  /** `performance.now()` when it happened: windows must not move with the wall clock. */
  at: number;
  /** When it happened, for the health details. */
  time: Date;
  detail: T;
}

/** How many events of each kind the health indicator keeps: the most it can count in a window. */
export const RECENT_EVENTS_KEPT = 1_000;

/**
 * The last `capacity` events of one kind, to count those within a time window. Bounded so an
 * outage that fails every tick of every job for hours cannot grow it without limit.
 */
export class RecentEvents<T> {
  private readonly events: RecentEvent<T>[] = [];

  constructor(private readonly capacity = RECENT_EVENTS_KEPT) {}

  add(detail: T): void {
    this.events.push({ at: performance.now(), time: new Date(), detail });
    if (this.events.length > this.capacity) {
      this.events.splice(0, this.events.length - this.capacity);
    }
  }

  /** The events of the last `windowMs` ms, oldest first. */
  within(windowMs: number): RecentEvent<T>[] {
    const since = performance.now() - windowMs;
    return this.events.filter((event) => event.at >= since);
  }
}
