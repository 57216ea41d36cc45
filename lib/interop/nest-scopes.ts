import { bindInstance, bindingOf, type JobBinding } from '../cron-lock.bindings.js';
import { processWide } from '../utils/process-wide.js';

/** What this file reads of Nest's `InstanceWrapper` of a request-scoped or transient provider. */
export interface ScopedProviderWrapper {
  metatype: unknown;
  inject?: unknown;
  readonly isTransient: boolean;
  readonly instance: unknown;
  getStaticTransientInstances?(): Array<{ instance?: unknown } | undefined>;
}

type ProviderClass = new (...args: unknown[]) => object;

/** The subclasses made below, so that a second pass over the same wrapper reuses its own. */
const appClasses = processWide('app-classes', () => new WeakSet<object>());

/**
 * Binds the instances of a request-scoped or transient provider that its app makes besides the
 * one `@nestjs/schedule` mounts: those made per request or per resolve after bootstrap, and the
 * transient instances made for other providers as the app booted.
 *
 * Nest makes each later instance with `new wrapper.metatype(...)` (or `Object.create` of its
 * prototype), and the wrapper is the app's own. So the app's wrapper gets a subclass of the
 * provider class, made for this app, whose prototype holds this app's bindings. Keyed by the
 * method or the class instead, two apps in one process that provide the same class would share
 * one binding, and the app booted last would run the other's calls under its own lock.
 *
 * The subclass declares nothing: it has the class's name, and Nest reads the class's injection
 * metadata through it. Providers made by a factory are left alone: their code makes the instance.
 */
export function bindLaterInstances(
  wrapper: ScopedProviderWrapper,
  methodKey: string | symbol,
  binding: JobBinding,
): void {
  const appClass = appClassOf(wrapper);
  if (appClass) {
    bindInstance(appClass.prototype, methodKey, binding);
  }
  if (!wrapper.isTransient) {
    return;
  }
  for (const made of wrapper.getStaticTransientInstances?.() ?? []) {
    const instance = made?.instance;
    // The wrapper's own instance is the one the scheduler mounts, bound already with its driver.
    if (
      instance &&
      typeof instance === 'object' &&
      instance !== wrapper.instance &&
      !bindingOf(instance, methodKey)
    ) {
      bindInstance(instance, methodKey, binding);
    }
  }
}

function appClassOf(wrapper: ScopedProviderWrapper): ProviderClass | undefined {
  const metatype = wrapper.metatype as ProviderClass | null | undefined;
  if (wrapper.inject || typeof metatype !== 'function' || typeof metatype.prototype !== 'object') {
    return undefined;
  }
  if (appClasses.has(metatype)) {
    return metatype;
  }
  const appClass = class extends metatype {};
  Object.defineProperty(appClass, 'name', { value: metatype.name, configurable: true });
  appClasses.add(appClass);
  wrapper.metatype = appClass;
  return appClass;
}
