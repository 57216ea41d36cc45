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
 * Rejects an `@OnEvent` handler of a forwarded event that is deferred (`async` or `nextTick`) and
 * lets its errors out (`suppressErrors: false`). EventEmitter2 calls such a handler from
 * `setImmediate` / `process.nextTick` and drops the promise `@nestjs/event-emitter` wraps it in,
 * unless `promisify` is set: the forwarder cannot catch its error, and the unhandled rejection
 * ends the process (Node's default), mid-run with a lock held. Reads the decorators' metadata,
 * so it runs before `@nestjs/event-emitter` subscribes the handlers.
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
    // A request-scoped handler is registered as an `async` function, which EventEmitter2
    // promisifies: its promise reaches the emitter, and the lock logs its error.
    if (!instance || wrapper.isAlias || !wrapper.isDependencyTreeStatic()) {
      continue;
    }
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
        const deferral = options?.async ? 'async' : options?.nextTick ? 'nextTick' : undefined;
        if (
          deferral === undefined ||
          options?.promisify === true ||
          options?.suppressErrors !== false ||
          !reaches(event)
        ) {
          continue;
        }
        throw new CronLockConfigError(
          `CronLockEventEmitterModule: ${owner}.${method} handles ${describeEvent(event)} ` +
            `with { ${deferral}: true, suppressErrors: false }: EventEmitter2 runs it later and ` +
            'keeps no promise of it, so an error it throws would end the process (an unhandled ' +
            'rejection). Fix: add promisify: true to its @OnEvent options (the lock then logs its ' +
            `error), or remove suppressErrors: false, or remove ${deferral}: true.`,
        );
      }
    }
  }
}

function describeEvent(event: OnEventMetadata['event']): string {
  const one = (name: string | symbol): string =>
    typeof name === 'symbol' ? name.toString() : describeValue(name);
  return Array.isArray(event) ? `[${event.map(one).join(', ')}]` : one(event);
}
