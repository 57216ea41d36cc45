/**
 * State that must exist once per process, not once per copy of this package.
 *
 * The package ships an ES module build and a CommonJS build. One process can load both — an ES
 * module app whose CommonJS dependency (or test runner) requires the package — and then a method
 * decorated through one copy is bound by the `CronLockModule` of the other. Module-level state
 * of each copy would split into two registries, and the decorated method would find no binding.
 * Keyed by a registered symbol on `globalThis`, both copies share one. The key carries a layout
 * version, so two releases with different shapes of the same state never read each other's.
 */
export function processWide<T>(name: string, create: () => T): T {
  const key = Symbol.for(`nestjs-cron-lock.v1.${name}`);
  const slots = globalThis as unknown as Record<symbol, T | undefined>;
  return (slots[key] ??= create());
}
