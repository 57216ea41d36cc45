import { Injectable } from '@nestjs/common';
import type { JobBinding } from './cron-lock.bindings.js';

/** A bound job and where it lives, for runLockedJob() (`nestjs-cron-lock/testing`). */
export interface BoundJob {
  instance: object;
  methodKey: string | symbol;
  /** The locked method (the decorator's replacement). */
  method: object;
  binding: JobBinding;
}

/**
 * @internal The jobs one app bound, by lock name, and the names `run()` used: what `inspect()`,
 * runLockedJob() and a dashboard list. One per app (provided by the module), so that two apps
 * in one process never see each other's jobs.
 */
@Injectable()
export class CronLockRegistry {
  private readonly jobs = new Map<string, BoundJob>();
  private readonly manual = new Set<string>();

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

  /** Every bound job, in the order bound. */
  all(): BoundJob[] {
    return [...this.jobs.values()];
  }

  /** Records a lock name that `run()` used (only names that passed its check). */
  addManual(name: string): void {
    this.manual.add(name);
  }

  /** Whether `run()` used this lock name already (so it passed the name check). */
  hasManual(name: string): boolean {
    return this.manual.has(name);
  }

  /** Every lock name known to this app, bound or run by hand, sorted. */
  names(): string[] {
    return [...new Set([...this.jobs.keys(), ...this.manual])].sort();
  }
}
