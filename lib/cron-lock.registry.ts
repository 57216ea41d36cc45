import { Injectable } from '@nestjs/common';
import type { JobBinding } from './cron-lock.bindings.js';
import { RecentNames } from './utils/recent-names.js';
import { shareAcrossBuilds } from './utils/build-twins.js';
import { unrefTimer } from './utils/unref-timer.js';

// One function for every use: run() calls addManual on every run.
const remembered = (): true => true;

/** A bound job and where it lives, for runLockedJob() (`nestjs-cron-lock/testing`). */
export interface BoundJob {
  instance: object;
  methodKey: string | symbol;
  /** The locked method (the decorator's replacement). */
  method: object;
  binding: JobBinding;
}

/**
 * @internal The jobs one app bound, by lock name, and the names `run()` used most recently: what
 * `inspect()`, runLockedJob() and a dashboard list. One per app (provided by the module), so that
 * two apps in one process never see each other's jobs.
 */
@Injectable()
export class CronLockRegistry {
  private readonly jobs = new Map<string, BoundJob>();
  /** Bounded: an app that locks per entity passes `run()` a new name each time. */
  private readonly manual = new RecentNames<true>();

  /** Records a bound job; the first instance bound under a lock name is the one kept. */
  add(job: BoundJob): void {
    if (!this.jobs.has(job.binding.job.name)) {
      this.jobs.set(job.binding.job.name, job);
    }
  }

  /** The job bound under this lock name, if any. */
  get(name: string): BoundJob | undefined {
    return this.jobs.get(name);
  }

  private isBound = false;
  /** The `trigger()` calls made before the binding, woken by it. */
  private readonly boundWaiters = new Set<() => void>();

  /**
   * Set once the explorer bound the app's jobs (its `onModuleInit`). Before, a constructor, a
   * factory or an `onModuleInit` that Nest calls first cannot tell a job's name from another.
   */
  get bound(): boolean {
    return this.isBound;
  }

  set bound(bound: boolean) {
    this.isBound = bound;
    if (bound) {
      for (const wake of this.boundWaiters) {
        wake();
      }
    }
  }

  /** Resolves `true` once the jobs are bound, or `false` if they are not within `ms`. */
  whenBound(ms: number): Promise<boolean> {
    if (this.isBound) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.boundWaiters.delete(done);
        resolve(this.isBound);
      };
      // Never keeps the process alive: an app that stops before binding ends the wait.
      const timer = unrefTimer(setTimeout(done, ms));
      this.boundWaiters.add(done);
    });
  }

  /** Whether `name` is known to be no job's: `false` while the jobs are not bound yet. */
  isNoJob(name: string): boolean {
    return this.bound && !this.jobs.has(name);
  }

  /** Every bound job, in the order bound. */
  all(): BoundJob[] {
    return [...this.jobs.values()];
  }

  /** Records a lock name that `run()` used now (only names that passed its check). */
  addManual(name: string): void {
    this.manual.use(name, remembered);
  }

  /** Whether `run()` used this lock name recently (so it passed the name check). */
  hasManual(name: string): boolean {
    return this.manual.has(name);
  }

  /** Every job this app bound and the names `run()` used most recently, sorted. */
  names(): string[] {
    return [...new Set([...this.jobs.keys(), ...this.manual.names()])].sort();
  }
}

shareAcrossBuilds('CronLockRegistry', CronLockRegistry);
