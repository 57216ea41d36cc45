import type { LockEventRecord } from './lock-events.listener.js';

interface Occurrence {
  job: string;
  scheduledAt: number;
  runners: Array<{ instance: string; fencingToken: number }>;
  skips: Map<string, string>;
  renewals: number;
  /** The lock ttl the last renewal set, in ms. */
  renewedTtl: number;
  printed: boolean;
  straggler?: NodeJS.Timeout;
}

/** A tick line is printed once every instance answered, or after this long at the latest. */
const STRAGGLER_WAIT_MS = 2_000;

/**
 * Turns the lock events of all instances into one line per occurrence:
 *
 *   12:00:03  quick  ran on instance-b (fence 42)  skipped: a (tick-done), c (tick-done)
 *
 * plus a line when a renewed, failed or lost run ends, and a summary that counts how many
 * instances ran each occurrence. Only occurrences inside the recording window are reported:
 * before it not every instance was up yet, after it they are shutting down.
 */
export class RunReport {
  private readonly occurrences = new Map<string, Occurrence>();
  private from = Number.POSITIVE_INFINITY;
  private to = Number.POSITIVE_INFINITY;

  constructor(
    private readonly instances: readonly string[],
    private readonly print: (line: string) => void = (line) => console.log(line),
  ) {}

  /** Reports occurrences scheduled from `from` (ms since epoch) on, until {@link stopAt}. */
  startAt(from: number): void {
    this.from = from;
  }

  /** Occurrences scheduled at `to` or later are not reported. */
  stopAt(to: number): void {
    this.to = to;
  }

  record(event: LockEventRecord): void {
    const at = event.scheduledAt;
    if (at === null || at < this.from || at >= this.to) {
      return;
    }
    const key = `${event.job}@${at}`;
    let occurrence = this.occurrences.get(key);
    if (!occurrence) {
      occurrence = {
        job: event.job,
        scheduledAt: at,
        runners: [],
        skips: new Map(),
        renewals: 0,
        renewedTtl: 0,
        printed: false,
      };
      this.occurrences.set(key, occurrence);
      const pending = occurrence;
      occurrence.straggler = setTimeout(() => this.printTick(pending), STRAGGLER_WAIT_MS);
      occurrence.straggler.unref();
    }
    switch (event.type) {
      case 'acquired':
        occurrence.runners.push({
          instance: event.instance,
          fencingToken: event.fencingToken ?? 0,
        });
        if (occurrence.printed) {
          this.print(`${this.prefix(occurrence)}!! ran AGAIN on ${event.instance}`);
        }
        break;
      case 'skipped':
        occurrence.skips.set(event.instance, event.reason ?? '?');
        break;
      case 'renewed':
        occurrence.renewals += 1;
        occurrence.renewedTtl = event.ttl ?? 0;
        return;
      case 'completed':
        if (occurrence.renewals > 0) {
          this.print(
            `${this.prefix(occurrence)}↳ ${event.instance} finished after ${seconds(event.durationMs)}; ` +
              `its ${seconds(occurrence.renewedTtl)} lock was renewed ${occurrence.renewals}× meanwhile`,
          );
        }
        return;
      case 'failed':
        this.print(`${this.prefix(occurrence)}↳ ${event.instance} failed: ${event.message}`);
        return;
      case 'lost':
        this.print(
          `${this.prefix(occurrence)}↳ ${event.instance} LOST its lock (${event.reason}); ctx.signal aborted`,
        );
        return;
      case 'store-error':
        this.print(
          `${this.prefix(occurrence)}${event.instance}: lock store error on ${event.reason}: ${event.message}`,
        );
        return;
      default:
        return;
    }
    if (occurrence.runners.length + occurrence.skips.size >= this.instances.length) {
      this.printTick(occurrence);
    }
  }

  /** Prints the occurrences still waiting for an instance's answer. */
  flush(): void {
    for (const occurrence of [...this.occurrences.values()].sort(byTime)) {
      this.printTick(occurrence);
    }
  }

  /**
   * One line per job: how many occurrences ran on exactly one instance. `ok` is false if any
   * occurrence ran on more than one instance.
   */
  summary(): { lines: string[]; ok: boolean } {
    const jobs = [...new Set([...this.occurrences.values()].sort(byTime).map((o) => o.job))];
    const lines: string[] = [];
    let ok = true;
    for (const job of jobs) {
      const all = [...this.occurrences.values()].filter((o) => o.job === job);
      const perInstance = new Map<string, number>();
      for (const o of all) {
        for (const runner of o.runners) {
          const short = shortName(runner.instance);
          perInstance.set(short, (perInstance.get(short) ?? 0) + 1);
        }
      }
      const once = all.filter((o) => o.runners.length === 1).length;
      const twice = all.filter((o) => o.runners.length > 1).length;
      const never = all.filter((o) => o.runners.length === 0).length;
      const renewals = all.reduce((sum, o) => sum + o.renewals, 0);
      const spread = [...perInstance.entries()]
        .sort()
        .map(([instance, count]) => `${instance} ${count}×`)
        .join(', ');
      let line =
        `${job.padEnd(6)} ${plural(all.length, 'occurrence')}: ${once} ran on exactly one instance` +
        (spread ? ` (${spread})` : '');
      if (never > 0) {
        line += `, ${never} did not run`;
      }
      if (twice > 0) {
        line += `, ${twice} ran on SEVERAL instances`;
        ok = false;
      }
      if (renewals > 0) {
        line += `; ${renewals} lock renewals`;
      }
      lines.push(line);
    }
    return { lines, ok };
  }

  private printTick(occurrence: Occurrence): void {
    if (occurrence.printed) {
      return;
    }
    occurrence.printed = true;
    clearTimeout(occurrence.straggler);
    const ran =
      occurrence.runners.length === 0
        ? 'not run'
        : `ran on ${occurrence.runners
            .map((r) => `${r.instance} (fence ${r.fencingToken})`)
            .join(' AND ')}${occurrence.runners.length > 1 ? ' !! more than once' : ''}`;
    const others = this.instances
      .filter((instance) => !occurrence.runners.some((r) => r.instance === instance))
      .map((instance) => `${shortName(instance)} (${occurrence.skips.get(instance) ?? 'no tick'})`);
    this.print(
      `${this.prefix(occurrence)}${ran}${others.length ? `  skipped: ${others.join(', ')}` : ''}`,
    );
  }

  private prefix(occurrence: Occurrence): string {
    return `${clock(occurrence.scheduledAt)}  ${occurrence.job.padEnd(5)}  `;
  }
}

function byTime(a: Occurrence, b: Occurrence): number {
  return a.scheduledAt - b.scheduledAt || a.job.localeCompare(b.job);
}

/** `instance-b` → `b`: enough next to the full name of the instance that ran. */
function shortName(instance: string): string {
  return instance.replace(/^instance-/, '');
}

/** Local wall-clock time of an occurrence, `HH:MM:SS`. */
function clock(ms: number): string {
  const date = new Date(ms);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, '0'))
    .join(':');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function seconds(ms: number | undefined): string {
  return `${((ms ?? 0) / 1_000).toFixed(1)}s`;
}
