import type { DiscoveryService } from '@nestjs/core';
import { CRON_LOCK_OPTIONS } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';

/**
 * `CronLockModule` registered more than once in one app (the message in the style of
 * cron-lock.messages.ts, kept here beside its one caller since that file is at its line limit).
 */
export const MODULE_REGISTERED_TWICE = (registrations: number, importers: string[]): string =>
  `CronLockModule is registered ${registrations} times in this app` +
  (importers.length === 0 ? '' : ` (in the imports of ${importers.join(', ')})`) +
  `: each registration has a store and options of its own, but only one of them can lock the ` +
  `app's jobs, so the others' settings would be silently ignored. ` +
  `Fix: call CronLockModule.forRoot() or forRootAsync() once, in the root module; it is global ` +
  `(with isGlobal: false, import that one module where CronLockService is injected).`;

/**
 * Throws {@link CronLockConfigError} when the app has more than one `CronLockModule` (found by
 * their options provider). Each one's explorer would bind every job of the app, the last one's
 * store silently winning: a feature module's in-memory `forRoot` would leave a fleet's jobs
 * locked per process.
 */
export function checkOneLockModule(discovery: DiscoveryService): void {
  const hosts = discovery
    .getProviders()
    .filter((wrapper) => wrapper.token === CRON_LOCK_OPTIONS)
    .map((wrapper) => wrapper.host);
  const registrations = new Set(hosts).size;
  if (registrations > 1) {
    throw new CronLockConfigError(
      MODULE_REGISTERED_TWICE(registrations, lockModuleImporters(discovery)),
    );
  }
}

/**
 * The `@Module` classes whose declared imports call `CronLockModule.forRoot` or `forRootAsync`,
 * once per call. Read from the decorator's metadata, not from Nest's linked modules, where a
 * global module is among the imports of every module. A module built by a `forRoot` of its own
 * keeps its imports elsewhere and is not listed.
 */
function lockModuleImporters(discovery: DiscoveryService): string[] {
  const classes = new Set(discovery.getProviders().map((wrapper) => wrapper.host?.metatype));
  const importers: string[] = [];
  for (const moduleClass of classes) {
    const imports: unknown = moduleClass && Reflect.getMetadata('imports', moduleClass);
    for (const entry of Array.isArray(imports) ? imports : []) {
      // By name: the other build of the package has a CronLockModule class of its own.
      const module = (entry as { module?: { name?: unknown } } | null)?.module;
      if (module?.name === 'CronLockModule') {
        importers.push(moduleClass!.name);
      }
    }
  }
  return importers;
}
