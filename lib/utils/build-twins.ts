import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { processWide } from './process-wide.js';

/**
 * The classes an app injects by class (`CronLockService`), one per build of the package that
 * the process loaded, by name. A class is its own injection token, and the ES module and
 * CommonJS builds each define theirs: code that imports the service from the build that did not
 * register `CronLockModule` (a CommonJS library of jobs in an ES module app) would find no
 * provider. Each build adds its class here as it loads, and the module provides its own instance
 * under the class of every other build (see {@link provideTwins}).
 */
const classes = processWide('injectable-classes', () => new Map<string, Set<Type>>());

/** A module built by `forRoot()`: its own classes, by name, to alias under a later build's. */
interface TwinSlot {
  readonly module: WeakRef<DynamicModule>;
  readonly own: ReadonlyMap<string, Type>;
}
/** Weak: a module the app no longer holds is dropped at the next `forRoot()` or registration. */
const slots = processWide('injectable-class-slots', () => new Set<TwinSlot>());

/**
 * Registers `type`, this build's class of `name`. A module already built by the other build
 * gets it too: the other build may load after the app's module was defined (a CommonJS library
 * that registers `CronLockModule` as it loads, imported before the app's own files), and Nest
 * reads the module's providers only when the app is created.
 */
export function shareAcrossBuilds(name: string, type: Type): void {
  let types = classes.get(name);
  if (types === undefined) {
    types = new Set();
    classes.set(name, types);
  }
  types.add(type);
  for (const slot of slots) {
    const module = slot.module.deref();
    if (module === undefined) {
      slots.delete(slot);
      continue;
    }
    const own = slot.own.get(name);
    if (own !== undefined && own !== type) addTwin(module, own, type);
  }
}

/**
 * Provides in `module` each of `own` (this build's classes, by name) under the classes of the
 * other builds, now and as they load, and exports them beside it.
 */
export function provideTwins(module: DynamicModule, own: ReadonlyMap<string, Type>): DynamicModule {
  for (const [name, type] of own) {
    for (const other of classes.get(name) ?? []) {
      if (other !== type) addTwin(module, type, other);
    }
  }
  for (const slot of slots) {
    if (slot.module.deref() === undefined) slots.delete(slot);
  }
  slots.add({ module: new WeakRef(module), own });
  return module;
}

function addTwin(module: DynamicModule, own: Type, other: Type): void {
  const provider: Provider = { provide: other, useExisting: own };
  (module.providers ??= []).push(provider);
  (module.exports ??= []).push(other);
}
