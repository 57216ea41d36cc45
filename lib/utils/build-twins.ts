import type { Provider, Type } from '@nestjs/common';
import { processWide } from './process-wide.js';

/**
 * The classes an app injects by class (`CronLockService`), one per build of the package that
 * the process loaded, by name. A class is its own injection token, and the ES module and
 * CommonJS builds each define theirs: code that imports the service from the build that did not
 * register `CronLockModule` (a CommonJS library of jobs in an ES module app) would find no
 * provider. Each build adds its class here as it loads, and the module provides its own instance
 * under the class of every other build (see {@link twinProviders}).
 */
const twins = processWide('injectable-classes', () => new Map<string, Set<Type>>());

/** Registers `type`, this build's class of `name`, for the module of another build. */
export function shareAcrossBuilds(name: string, type: Type): void {
  let types = twins.get(name);
  if (types === undefined) {
    types = new Set();
    twins.set(name, types);
  }
  types.add(type);
}

/**
 * Aliases of `type` (this build's class of `name`) under the classes of the other builds loaded
 * when the module is registered, and those classes, to export beside it.
 */
export function twinProviders(name: string, type: Type): { providers: Provider[]; tokens: Type[] } {
  const tokens = [...(twins.get(name) ?? [])].filter((other) => other !== type);
  return {
    providers: tokens.map((other) => ({ provide: other, useExisting: type })),
    tokens,
  };
}
