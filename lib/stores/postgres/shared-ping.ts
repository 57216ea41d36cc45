import { runStatement, type PostgresPool } from './postgres-connection.js';

/**
 * The store's round trip for health checks, one at a time: a ping asked for while one is in
 * flight gets that one's answer.
 *
 * Why: a health check answers `down` at its own timeout, but its ping holds a pooled connection
 * until `operationTimeout` (and, when it times out, until its cancel is sent). While the database
 * hangs, probes every few seconds each took one more connection, up to the whole pool, with the
 * app's acquisitions queued behind them. Sharing keeps it to one; its round trip is the one
 * reported to every caller that joined it.
 */
export class SharedPing {
  private inFlight: Promise<number> | null = null;

  constructor(
    private readonly pool: PostgresPool,
    private readonly timeout: number,
  ) {}

  /** `guard` wraps the statement in the store's error handling (table check, redaction). */
  run(guard: (ping: () => Promise<number>) => Promise<number>): Promise<number> {
    this.inFlight ??= guard(() => this.roundTrip()).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async roundTrip(): Promise<number> {
    const started = performance.now();
    await runStatement(this.pool, 'SELECT 1', [], this.timeout);
    return performance.now() - started;
  }
}
