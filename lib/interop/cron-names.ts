import type { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { DUPLICATE_LOCK_NAME } from '../cron-lock.messages.js';
import { cronJobNameOf, type NameCheck } from './nestjs-schedule.js';

/**
 * Cron job names across one app, as `@nestjs/schedule` will register them. It registers one job
 * per name and rejects the second with "Cron Job with the given name (x) already exists.
 * Ignored.", which names no method and is thrown from its own explorer; the clashes that involve
 * a `@LockedCron` job are reported here instead, naming both methods and the fix. Two different
 * `@LockedCron` methods of one name are left to the CronLockExplorer's claims (see
 * `scheduledName` in nestjs-schedule.ts), and two plain `@Cron` jobs to `@nestjs/schedule`.
 * The messages live here because `cron-lock.messages.ts` is at its line limit.
 */

/** A `@LockedCron` job and a plain `@Cron` job with the same name. */
export const PLAIN_CRON_NAME_CLASH = (name: string, locked: string, plain: string): string =>
  `${locked}: Cron Job with the given name (${name}) already exists: the @Cron job ${plain} ` +
  `has the same name, and @nestjs/schedule registers one job per name. ` +
  `Fix: give one of them a distinct { name } option.`;

/** A class with a named `@LockedCron` job, provided twice (two modules, or two tokens). */
export const PROVIDED_TWICE = (name: string, job: string, className: string): string =>
  `${job}: Cron Job with the given name (${name}) already exists: ${className} is provided ` +
  `twice in this app (in two modules' providers, or under two tokens), so its job would be ` +
  `scheduled twice under one name. Fix: provide ${className} once (in one module that exports ` +
  `it to the modules that use it).`;

interface CronJobEntry {
  name: string;
  /** The options object that names the job: the same for every instance of one method. */
  schedule: object;
  locked: boolean;
  owner: object;
  className: string;
  label: string;
}

/** Every named cron job `@nestjs/schedule` finds in the app: static instances, as it does. */
function cronJobsOf(discovery: DiscoveryService, scanner: MetadataScanner): CronJobEntry[] {
  const jobs: CronJobEntry[] = [];
  for (const wrapper of [...discovery.getControllers(), ...discovery.getProviders()]) {
    const instance = wrapper.instance as object | null | undefined;
    if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) {
      continue;
    }
    const prototype = Object.getPrototypeOf(instance) as Record<string | symbol, unknown> | null;
    if (!prototype) {
      continue;
    }
    const owner = instance.constructor as { name: string };
    for (const methodKey of scanner.getAllMethodNames(prototype)) {
      const method = prototype[methodKey];
      const job = typeof method === 'function' ? cronJobNameOf(method) : undefined;
      if (job) {
        jobs.push({ ...job, owner, className: owner.name, label: `${owner.name}.${methodKey}` });
      }
    }
  }
  return jobs;
}

/** The message for two jobs of one name, or `undefined` if this module leaves the pair alone. */
function clashOf(first: CronJobEntry, second: CronJobEntry): string | undefined {
  if (first.schedule === second.schedule) {
    if (!first.locked) {
      return undefined;
    }
    return first.owner === second.owner
      ? PROVIDED_TWICE(first.name, first.label, first.className)
      : DUPLICATE_LOCK_NAME(first.name, first.label, second.label);
  }
  if (first.locked === second.locked) {
    return undefined;
  }
  const [locked, plain] = first.locked ? [first, second] : [second, first];
  return PLAIN_CRON_NAME_CLASH(first.name, locked.label, plain.label);
}

/** Throws a CronLockConfigError for the first clash among the app's cron job names. */
function checkJobs(jobs: readonly CronJobEntry[]): void {
  const byName = new Map<string, CronJobEntry[]>();
  for (const job of jobs) {
    const same = byName.get(job.name) ?? [];
    for (const other of same) {
      const message = clashOf(other, job);
      if (message !== undefined) {
        throw new CronLockConfigError(message);
      }
    }
    byName.set(job.name, [...same, job]);
  }
}

/**
 * The app's check of its cron job names, run once: by the CronLockExplorer's `onModuleInit`, or
 * earlier when `@nestjs/schedule`'s explorer runs first and reads the name of one of this app's
 * `@LockedCron` jobs.
 */
export function cronNameCheck(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
): { check: NameCheck; runNow(): void } {
  let done = false;
  const runNow = (jobs = cronJobsOf(discovery, scanner)): void => {
    done = true;
    checkJobs(jobs);
  };
  return {
    check: (schedule) => {
      if (done) {
        return;
      }
      const jobs = cronJobsOf(discovery, scanner);
      // Another app being bootstrapped at the same time reads its own jobs' names.
      if (jobs.some((job) => job.schedule === schedule)) {
        runNow(jobs);
      }
    },
    runNow: () => {
      if (!done) {
        runNow();
      }
    },
  };
}
