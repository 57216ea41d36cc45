import type { LockStore } from 'nestjs-cron-lock';

/**
 * Counts the reads a store is sent (`inspect` by default): sent, answered, and how many were in
 * flight at once at most. `wrap()` hands back the store with those methods counted.
 */
export class CountedReads {
  calls = 0;
  answered = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly methods: ReadonlySet<string> = new Set(['inspect'])) {}

  reset(): void {
    this.calls = 0;
    this.answered = 0;
    this.maxInFlight = 0;
  }

  wrap(store: LockStore): LockStore {
    return new Proxy(store, {
      get: (target, key, receiver) => {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        if (!this.methods.has(String(key))) return value.bind(target);
        return async (...args: unknown[]) => {
          this.calls++;
          this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            this.inFlight--;
            this.answered++;
          }
        };
      },
    });
  }
}
