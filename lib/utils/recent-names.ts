/**
 * How many lock names an app remembers beyond its bound jobs: the names `run()` used (listed by
 * `inspect()` and the dashboard), and the per-name state of alerts and missed-occurrence reasons.
 */
export const RECENT_NAMES_KEPT = 1_000;

/**
 * The lock names used most recently, each with a value, at most `limit` of them: using one more
 * forgets the one used longest ago. An app that locks per entity (`run('invoice:<id>', …)`) calls
 * `run()` with a new name each time; what it keeps per name must not grow with them.
 */
export class RecentNames<V> {
  private readonly entries = new Map<string, V>();
  /**
   * The name used last. Using it again changes no order, so the `Map` is left alone: a delete
   * and re-insert leaves a hole in the table that it rehashes to reclaim, and a lock taken
   * over and over under one name would pay for that on every run.
   */
  private newest: string | undefined;

  constructor(private readonly limit = RECENT_NAMES_KEPT) {}

  /** The value of `name`, if remembered; reading does not count as a use. */
  get(name: string): V | undefined {
    return this.entries.get(name);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Marks `name` as used now and returns its value, made by `create` when it is new. */
  use(name: string, create: () => V): V {
    let value = this.entries.get(name);
    if (value !== undefined && name === this.newest) {
      return value;
    }
    this.newest = name;
    if (value === undefined) {
      value = create();
    } else {
      // Re-inserted: a Map keeps insertion order, so the oldest use is always first.
      this.entries.delete(name);
    }
    this.entries.set(name, value);
    if (this.entries.size > this.limit) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    return value;
  }

  /** The names remembered, from the one used longest ago. */
  names(): IterableIterator<string> {
    return this.entries.keys();
  }
}

/**
 * State kept per lock name: a job with a schedule (as many as the app's code binds) for good,
 * any other name among the {@link RECENT_NAMES_KEPT} used most recently.
 */
export class PerName<V> {
  private readonly scheduled = new Map<string, V>();
  private readonly recent = new RecentNames<V>();

  /** The state of `name`, if kept; reading does not count as a use. */
  get(name: string): V | undefined {
    return this.scheduled.get(name) ?? this.recent.get(name);
  }

  /**
   * The state of `name`, made by `create` when there is none; `scheduled`: the name is a job's
   * with a schedule, kept for good from now on.
   */
  use(name: string, scheduled: boolean, create: () => V): V {
    const kept = this.scheduled.get(name);
    if (kept !== undefined) {
      return kept;
    }
    if (!scheduled) {
      return this.recent.use(name, create);
    }
    const value = this.recent.get(name) ?? create();
    this.scheduled.set(name, value);
    return value;
  }
}
