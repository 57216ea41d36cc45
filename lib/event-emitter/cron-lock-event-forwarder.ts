import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { CRON_LOCK_SERVICE_MISSING } from '../cron-lock.messages.js';
import { CronLockService } from '../cron-lock.service.js';
import {
  CRON_LOCK_EVENT_EMITTER_OPTIONS,
  type ResolvedCronLockEventEmitterOptions,
} from './cron-lock-event-emitter.options.js';
import { rejectUncatchableHandlers } from './deferred-handlers.js';
import { emitEach } from './emit-each.js';

/**
 * Re-emits every {@link CronLockService} event on `@nestjs/event-emitter`'s `EventEmitter2`
 * as `<prefix>.<event>`, with the same payload, so `@OnEvent('cron-lock.lost')` receives it.
 * Subscribes with `onAny`, so events added in later versions are forwarded too.
 *
 * @publicApi
 */
@Injectable()
export class CronLockEventForwarder implements OnModuleInit, OnApplicationShutdown {
  private stop: (() => void) | undefined;

  constructor(
    @Inject(CRON_LOCK_EVENT_EMITTER_OPTIONS)
    private readonly options: ResolvedCronLockEventEmitterOptions,
    // Optional so that a missing module fails with our message, not a bare DI error.
    @Optional() @Inject(CronLockService) private readonly locks?: CronLockService,
    @Optional() @Inject(EventEmitter2) private readonly emitter?: EventEmitter2,
    @Optional() private readonly discovery?: DiscoveryService,
    @Optional() private readonly scanner?: MetadataScanner,
  ) {}

  /**
   * @internal Starts forwarding; `app.init()` rejects if either module is missing, or if a
   * deferred `@OnEvent` handler of a forwarded event would let an error end the process.
   */
  onModuleInit(): void {
    if (!this.locks) {
      throw new CronLockConfigError(CRON_LOCK_SERVICE_MISSING('CronLockEventEmitterModule'));
    }
    if (!this.emitter) {
      throw new CronLockConfigError(
        "CronLockEventEmitterModule: @nestjs/event-emitter's EventEmitter2 is not available. " +
          'Fix: import EventEmitterModule.forRoot() in the app module.',
      );
    }
    const emitter = this.emitter;
    const prefix = this.options.prefix;
    if (this.discovery && this.scanner) {
      rejectUncatchableHandlers(this.discovery, this.scanner, emitter, prefix);
    }
    // Not emit(): @nestjs/event-emitter wraps every handler in an async function, so a handler
    // with `suppressErrors: false` fails as a rejected promise, which emit() drops (an unhandled
    // rejection, which ends the process mid-run, lock held). Nor emitAsync(): its one promise
    // carries the first failure only. emitEach() calls the same handlers, synchronously and in the
    // same order, and returns each one's result to the lock's event bus, which logs every failure
    // like any listener's; it still calls an emitAsync() the app replaced (a test double, a spy).
    this.stop = this.locks.onAny(({ event, payload }) =>
      emitEach(emitter, `${prefix}.${event}`, payload),
    );
  }

  /** @internal Stops forwarding (after the last runs drained, so their events still go out). */
  onApplicationShutdown(): void {
    this.stop?.();
    this.stop = undefined;
  }
}
