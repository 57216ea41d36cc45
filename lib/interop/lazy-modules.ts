import { processWide } from '../utils/process-wide.js';
import type { ScopedProviderWrapper } from './nest-scopes.js';

/** Binds `instance`'s locked methods if it is one of its app's providers; whether it did. */
export type LateBinder = (instance: object) => boolean;

/**
 * One per app with a CronLockModule, from its initialisation to its close. Weakly held: an app
 * whose bootstrap failed after ours initialised (another module's hook threw) is never closed,
 * since `createApplicationContext()` hands nothing back, and must not be kept alive by it. A
 * started app keeps its binder alive (a field of its explorer, which its container holds).
 */
const binders = processWide('weak-late-binders', () => new Set<WeakRef<LateBinder>>());

/** Registers an app's binder of the instances it makes after bootstrap. */
export function addLateBinder(binder: LateBinder): void {
  binders.add(new WeakRef(binder));
}

/** Withdraws an app's binder as the app closes, with those of apps collected since. */
export function removeLateBinder(binder: LateBinder): void {
  for (const ref of binders) {
    const held = ref.deref();
    if (held === undefined || held === binder) {
      binders.delete(ref);
    }
  }
}

/**
 * Binds an instance that no app bound at bootstrap, at the first call of one of its locked
 * methods: a provider of a module loaded with `LazyModuleLoader` after the app initialised,
 * which no module hook of ours sees. The app that made it finds it among its own providers, so
 * the call runs under that app's lock. Only an instance no app bound gets here (a missing module
 * included), so a bound method's call never pays for the search.
 */
export function bindLate(instance: object): boolean {
  for (const ref of binders) {
    const binder = ref.deref();
    if (binder === undefined) {
      binders.delete(ref);
    } else if (binder(instance)) {
      return true;
    }
  }
  return false;
}

/**
 * Whether `target` is an instance of the provider of `wrapper` made as its module loaded: the
 * wrapper's own or, for a transient provider, one made for each provider that injects it, which
 * a search by the wrapper's instance alone never found ("CronLockModule is not imported").
 */
export function madeAtLoad(wrapper: ScopedProviderWrapper, target: object): boolean {
  if (wrapper.instance === target) {
    return true;
  }
  return (
    wrapper.isTransient &&
    (wrapper.getStaticTransientInstances?.() ?? []).some((made) => made?.instance === target)
  );
}
