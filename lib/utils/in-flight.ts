/**
 * Store commands of one kind sent and not answered yet, and a wait until none is: what shutdown
 * needs of the acquisitions and releases in flight. A count, not a `Set` of their promises: a
 * `Set` that adds and deletes a new member on every run keeps rehashing its table.
 */
export class InFlight {
  private count = 0;
  /** Made when someone waits while commands are in flight; settled when the count reaches zero. */
  private idle: { promise: Promise<void>; resolve: () => void } | null = null;

  /** How many are in flight. */
  get size(): number {
    return this.count;
  }

  sent(): void {
    this.count++;
  }

  /** One was answered (or failed). A waiter resumes in a later microtask, not inside this call. */
  answered(): void {
    this.count--;
    if (this.count === 0 && this.idle !== null) {
      const { resolve } = this.idle;
      this.idle = null;
      resolve();
    }
  }

  /** Resolves once none is in flight (at once when none is). */
  settled(): Promise<void> {
    if (this.count === 0) {
      return Promise.resolve();
    }
    if (this.idle === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((settle) => (resolve = settle));
      this.idle = { promise, resolve };
    }
    return this.idle.promise;
  }
}
