import type { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { CRON_LOCK_EVENT_NAMES } from '../observer/events.js';
import { describeValue } from '../utils/describe-value.js';

/**
 * The metadata key `@OnEvent()` writes. Spelled out rather than imported: the supported
 * `@nestjs/event-emitter` versions all use it, but not all of them export it.
 */
const EVENT_LISTENER_METADATA = 'EVENT_LISTENER_METADATA';

/** What `@OnEvent()` records on a method: the event (or pattern) and its options. */
interface OnEventMetadata {
  event: string | symbol | (string | symbol)[];
  options?: { async?: unknown; nextTick?: unknown; promisify?: unknown; suppressErrors?: unknown };
}

/**
 * Rejects a deferred (`async` or `nextTick`) `@OnEvent` handler of a forwarded event that lets its
 * errors out (`suppressErrors: false`) when the lock could never log them: EventEmitter2 calls it
 * from `setImmediate` / `process.nextTick` and drops the promise `@nestjs/event-emitter` wraps it
 * in, unless it promisifies the handler (the forwarder cannot catch its error, and the unhandled
 * rejection ends the process, mid-run with a lock held); or EventEmitter2 never calls it at all
 * (`nextTick` on a promisified handler). Reads the decorators' metadata, so it runs before
 * `@nestjs/event-emitter` subscribes the handlers.
 */
export function rejectUncatchableHandlers(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  emitter: EventEmitter2,
  prefix: string,
): void {
  // Matched as the app's emitter matches: `cron-lock.*` and `**` only with `wildcard: true`.
  const config = emitter as unknown as { wildcard?: unknown; delimiter?: unknown };
  const matcher = new EventEmitter2({
    wildcard: config.wildcard === true,
    delimiter: typeof config.delimiter === 'string' ? config.delimiter : '.',
  });
  const forwarded = CRON_LOCK_EVENT_NAMES.map((event) => `${prefix}.${event}`);
  const reaches = (event: OnEventMetadata['event']): boolean => {
    const probe = (): void => undefined;
    try {
      matcher.on(event, probe);
      const matched = forwarded.some((name) => matcher.listeners(name).includes(probe));
      matcher.off(event, probe);
      return matched;
    } catch {
      // An event EventEmitter2 cannot subscribe: @nestjs/event-emitter reports that itself.
      return false;
    }
  };
  for (const wrapper of [...discovery.getProviders(), ...discovery.getControllers()]) {
    const instance = wrapper.instance as Record<string, unknown> | null | undefined;
    if (!instance || wrapper.isAlias) {
      continue;
    }
    // @nestjs/event-emitter registers a request-scoped handler as an `async` function, which
    // EventEmitter2 promisifies unless `promisify` says otherwise.
    const requestScoped = !wrapper.isDependencyTreeStatic();
    const prototype = (Object.getPrototypeOf(instance) ?? {}) as {
      constructor?: { name?: unknown };
    };
    // The class, as the user wrote it: a provider's token may be a string or a symbol.
    const owner =
      typeof prototype.constructor?.name === 'string'
        ? prototype.constructor.name
        : String(wrapper.name);
    for (const method of scanner.getAllMethodNames(prototype)) {
      const handler = instance[method];
      if (typeof handler !== 'function') {
        continue;
      }
      const found: unknown = Reflect.getMetadata(EVENT_LISTENER_METADATA, handler);
      const listeners = (Array.isArray(found) ? found : found ? [found] : []) as OnEventMetadata[];
      for (const { event, options } of listeners) {
        if (options?.suppressErrors !== false) {
          continue;
        }
        const problem = deferredProblem(options, requestScoped);
        if (problem === undefined || !reaches(event)) {
          continue;
        }
        throw new CronLockConfigError(
          `CronLockEventEmitterModule: ${owner}.${method} handles ${describeEvent(event)} ` +
            `with ${describeOptions(options)}${requestScoped ? ' on a request-scoped provider' : ''}: ` +
            problem,
        );
      }
    }
  }
}

const KEEPS_NO_PROMISE =
  'EventEmitter2 runs it later and keeps no promise of it, so an error it throws would end the ' +
  'process (an unhandled rejection).';

/**
 * Why EventEmitter2 would keep a strict handler's error from the lock, and the fix, or `undefined`.
 * As EventEmitter2 (6.4.9) does: `nextTick` wins over `async`, and with `nextTick` on a
 * promisified handler its wrapper returns a resolved promise without calling the handler.
 */
function deferredProblem(
  options: NonNullable<OnEventMetadata['options']>,
  requestScoped: boolean,
): string | undefined {
  const promisified = options.promisify === undefined ? requestScoped : Boolean(options.promisify);
  if (options.nextTick) {
    const fix =
      'use async: true in place of nextTick: true' +
      (promisified ? '' : ', with promisify: true') +
      ' (the lock then logs its error), or remove nextTick: true' +
      (options.async && !promisified ? ' and async: true' : '');
    const why =
      options.promisify === undefined
        ? ' (@nestjs/event-emitter registers a request-scoped handler as an async function, ' +
          'which EventEmitter2 promisifies)'
        : '';
    return promisified
      ? `EventEmitter2 never calls a nextTick handler it promisifies${why}: it returns a ` +
          `resolved promise in its place, so this handler would never run. Fix: ${fix}.`
      : `${KEEPS_NO_PROMISE} Fix: ${fix}, or remove suppressErrors: false.`;
  }
  if (options.async && !promisified) {
    return (
      `${KEEPS_NO_PROMISE} Fix: set promisify: true in its @OnEvent options (the lock then logs ` +
      'its error), or remove suppressErrors: false, or remove async: true.'
    );
  }
  return undefined;
}

/** The options EventEmitter2 reads, as the user wrote them. */
function describeOptions(options: NonNullable<OnEventMetadata['options']>): string {
  const set = (['async', 'nextTick', 'promisify'] as const)
    .filter((key) => options[key] !== undefined)
    .map((key) => `${key}: ${describeValue(options[key])}`);
  return `{ ${[...set, 'suppressErrors: false'].join(', ')} }`;
}

function describeEvent(event: OnEventMetadata['event']): string {
  const one = (name: string | symbol): string =>
    typeof name === 'symbol' ? name.toString() : describeValue(name);
  return Array.isArray(event) ? `[${event.map(one).join(', ')}]` : one(event);
}
