import { Redis } from 'ioredis';
import { monoNow } from './records.js';

/** One key seen without an expiry (PTTL -1). */
export interface ExpiryViolation {
  key: string;
  mono: number;
}

/** What the sampler saw. */
export interface ExpiryReport {
  /** SCAN+PTTL passes that completed. */
  passes: number;
  /** Passes that found at least one lock key (so the check was not vacuous). */
  passesWithLock: number;
  violations: ExpiryViolation[];
}

/**
 * Samples every key under `<keyPrefix>:` with SCAN + PTTL about every `everyMs` for the whole
 * scenario, and remembers each key found with no expiry. Tolerates the server being down or
 * restarted (a failed pass is just not counted).
 */
export class ExpirySampler {
  private readonly client: Redis;
  private readonly report: ExpiryReport = { passes: 0, passesWithLock: 0, violations: [] };
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    url: string,
    private readonly keyPrefix: string,
    private readonly everyMs = 100,
  ) {
    this.client = new Redis(url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      commandTimeout: 1_000,
      retryStrategy: () => 100,
    });
    this.client.on('error', () => undefined);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pass();
      } catch {
        // The server is down or restarting: try again next time.
      }
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }

  private async pass(): Promise<void> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(
        cursor,
        'MATCH',
        `${this.keyPrefix}:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const pipeline = this.client.pipeline();
    for (const key of keys) pipeline.pttl(key);
    const replies = (await pipeline.exec()) ?? [];
    const at = monoNow();
    let sawLock = false;
    replies.forEach(([error, pttl], i) => {
      if (error) throw error;
      if (pttl === -1) this.report.violations.push({ key: keys[i], mono: at });
      if (keys[i].endsWith(':lock') && Number(pttl) > 0) sawLock = true;
    });
    this.report.passes++;
    if (sawLock) this.report.passesWithLock++;
  }

  /** Stops sampling and returns what was seen. */
  async stop(): Promise<ExpiryReport> {
    this.running = false;
    await this.loop;
    this.client.disconnect();
    return this.report;
  }
}
