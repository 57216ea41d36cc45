import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { CRON_LOCK_OPTIONS, CRON_LOCK_STORE } from '../cron-lock.constants.js';
import { CronLockService, type LockInspection } from '../cron-lock.service.js';
import { CronLockRegistry } from '../cron-lock.registry.js';
import { CronLockLogger } from '../observer/logger.js';
import type { ResolvedCronLockOptions } from '../options/module-options.js';
import type { HistoryEntry, LockStore } from '../stores/lock-store.interface.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type { ResolvedDashboardOptions } from './dashboard.options.js';
import type {
  DashboardHistoryEntry,
  DashboardJob,
  DashboardSnapshot,
  JobStatus,
} from './dashboard.types.js';
import { describeStoreError } from '../utils/redact.js';
import { safeText } from './escape.js';
import { DASHBOARD_LISTING_REFUSED } from './dashboard.messages.js';
import { mapBounded } from '../utils/bounded-map.js';

/**
 * The most jobs one load reads and shows. A store may hold a name per entity an app locks
 * (`run('sync:<tenant>', …)`): tens of thousands, each two reads, on every refresh of every
 * open page. Past this, the page says the list is cut and the `job` filter finds the rest.
 */
export const MAX_JOBS_SHOWN = 200;
/**
 * Jobs read at once (two reads each): a PostgreSQL pool (10 connections by default) keeps room
 * for the app's own locks, whose acquisitions would otherwise queue behind the page's reads.
 */
const JOBS_READ_AT_ONCE = 4;
/** A filter longer than any lock name (128) matches nothing: cut, not echoed whole. */
const MAX_FILTER_LENGTH = 200;

/**
 * @internal What the page and its JSON show: the jobs of the store's key prefix (or, on a
 * store that cannot or may not list them, the jobs this app knows), at most
 * {@link MAX_JOBS_SHOWN} of those whose name matches the filter, with their state and recent
 * history. Values are picked field by field, never spread, so nothing the store adds later (a
 * token, a client option) reaches the page unread.
 */
@Injectable()
export class DashboardData {
  /**
   * The module's logger, for every dashboard line (the actions' too): `logger: false` or the
   * app's own logger governs them as every other line of the package.
   */
  readonly logger: CronLockLogger;
  private reportedListingRefused = false;

  constructor(
    private readonly service: CronLockService,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
    @Inject(CRON_LOCK_OPTIONS) moduleOptions: ResolvedCronLockOptions,
    private readonly registry: CronLockRegistry,
  ) {
    this.logger = new CronLockLogger(moduleOptions.logger);
  }

  /** The id of the instance serving the page. */
  get instanceId(): string {
    return this.service.instanceId;
  }

  /**
   * Everything the page shows: the jobs whose name contains `filter` (any case; all without
   * one), the first {@link MAX_JOBS_SHOWN} of them, read a few at a time. Rejects with a 503
   * whose message is redacted when the store fails: Nest's default answer to another error would
   * hide why, and a raw driver error could carry the store's address or credentials.
   */
  async snapshot(filter?: unknown): Promise<DashboardSnapshot> {
    const empty = this.emptySnapshot(filter);
    let jobs: DashboardJob[];
    let matching: string[];
    try {
      matching = matchingNames(await this.jobNames(), empty.filter);
      jobs = await mapBounded(matching.slice(0, MAX_JOBS_SHOWN), JOBS_READ_AT_ONCE, (name) =>
        this.job(name),
      );
    } catch (error) {
      throw storeUnavailable(error);
    }
    return { ...empty, totalJobs: matching.length, jobs };
  }

  /** A snapshot without jobs: what the page shows around a store error. */
  emptySnapshot(filter?: unknown): DashboardSnapshot {
    return {
      generatedAt: new Date().toISOString(),
      servedBy: safeText(this.instanceId),
      actions: this.options.actions,
      historyAvailable: typeof this.store.history === 'function',
      filter: filterOf(filter),
      totalJobs: 0,
      jobs: [],
    };
  }

  /**
   * Whether `name` is a job the page lists (the actions refuse any other name). Rejects with the
   * same redacted 503 as {@link snapshot} when the store fails: an action is the first thing to
   * read the store, and an unhandled error there would answer a bare 500.
   */
  async knows(name: string): Promise<boolean> {
    try {
      return (await this.jobNames()).includes(name);
    } catch (error) {
      throw storeUnavailable(error);
    }
  }

  private async jobNames(): Promise<string[]> {
    // The store lists every job of its prefix (all instances'); the app's own jobs are added
    // for a store that cannot list, and for a job registered here before it first ran. Their
    // names only: inspecting each of them here cost a store call per name `run()` used.
    const listed = await this.listedJobs();
    const here = this.registry.names();
    return [...new Set([...(listed ?? []), ...here])].sort();
  }

  /**
   * The store's list of its prefix, or none when the store's user may not list it: the
   * least-privilege Redis user has no `SCAN` (it reads every key name of the database), and the
   * page then shows this app's own jobs rather than no page at all. Any other failure rejects.
   */
  private async listedJobs(): Promise<string[] | undefined> {
    try {
      return await this.store.listJobs?.();
    } catch (error) {
      if (!isPermissionRefusal(error)) {
        throw error;
      }
      if (!this.reportedListingRefused) {
        this.reportedListingRefused = true;
        this.logger.warn(DASHBOARD_LISTING_REFUSED(describeStoreError(error)));
      }
      return undefined;
    }
  }

  private async job(name: string): Promise<DashboardJob> {
    const [state, history] = await Promise.all([this.service.inspect(name), this.history(name)]);
    return toJob(state, history);
  }

  private async history(name: string): Promise<DashboardHistoryEntry[]> {
    if (typeof this.store.history !== 'function') {
      return [];
    }
    const entries = await this.service.history(name, { limit: this.options.historyLimit });
    return entries.map(toHistoryEntry);
  }
}

/**
 * The `job` query parameter as a filter: its first value when repeated, `null` when absent or
 * blank (an empty search box lists everything).
 */
function filterOf(value: unknown): string | null {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof first !== 'string' || first.trim() === '') {
    return null;
  }
  return first.trim().slice(0, MAX_FILTER_LENGTH);
}

/** The names containing `filter` in any case, by name, the one named exactly so first. */
function matchingNames(names: string[], filter: string | null): string[] {
  if (filter === null) {
    return names;
  }
  const wanted = filter.toLowerCase();
  const matching = names.filter((name) => name.toLowerCase().includes(wanted));
  const exact = matching.indexOf(filter);
  return exact <= 0 ? matching : [filter, ...matching.filter((name) => name !== filter)];
}

/** A Redis store error saying its user lacks a permission (`NOPERM`, led by the store's hint). */
function isPermissionRefusal(error: unknown): boolean {
  const text = error instanceof Error ? error.message : '';
  return /\bNOPERM\b|lacks permission for/.test(text);
}

/** A 503 whose message names no address or credential: a raw driver error could carry both. */
function storeUnavailable(error: unknown): ServiceUnavailableException {
  return new ServiceUnavailableException(
    `The lock store did not answer: ${describeStoreError(error)}`,
  );
}

function toJob(state: LockInspection, history: DashboardHistoryEntry[]): DashboardJob {
  const paused = state.paused;
  return {
    name: state.name,
    status: statusOf(state, paused),
    holder: safeText(state.holder),
    ttlLeftMs: state.ttlLeft,
    runningHere: state.runningHere,
    paused,
    pauseReason: safeText(state.pauseReason),
    pausedUntil: iso(state.pausedUntil),
    lastTick: iso(state.lastTick),
    lastSuccessAt: iso(state.lastSuccessAt),
    lastDurationMs: state.lastDurationMs,
    lastOutcome: state.lastOutcome,
    lastFinishedAt: iso(state.lastFinishedAt),
    consecutiveFailures: state.consecutiveFailures,
    fencingToken: state.fencingToken,
    cron: safeText(state.cron),
    timeZone: safeText(state.timeZone),
    nextAt: iso(state.nextAt),
    history,
  };
}

function statusOf(state: LockInspection, paused: boolean): JobStatus {
  // Held, whoever holds it: a plain lock (`run()` without occurrence or record) records no holder.
  if (state.ttlLeft !== null) {
    return 'running';
  }
  if (paused) {
    return 'paused';
  }
  return state.consecutiveFailures > 0 ? 'failing' : 'idle';
}

function toHistoryEntry(entry: HistoryEntry<Date>): DashboardHistoryEntry {
  return {
    kind: String(entry.kind),
    scheduledAt: iso(entry.scheduledAt),
    startedAt: iso(entry.startedAt),
    finishedAt: iso(entry.finishedAt),
    durationMs: typeof entry.durationMs === 'number' ? entry.durationMs : null,
    instanceId: safeText(entry.instanceId),
    trigger: safeText(entry.trigger),
    outcome: safeText(entry.outcome),
    error: safeText(entry.error),
  };
}

function iso(value: Date | number | null | undefined): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
