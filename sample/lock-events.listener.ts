import { Injectable, type OnModuleInit } from '@nestjs/common';
import { CronLockService, type CronLockEventName } from 'nestjs-cron-lock';
import { InstanceConfig } from './instance.config.js';

/** One lock event of one instance, flattened so it can also cross a process boundary (IPC). */
export interface LockEventRecord {
  instance: string;
  type: CronLockEventName;
  job: string;
  /** The occurrence (ms since epoch), or `null` for a run not tied to one. */
  scheduledAt: number | null;
  fencingToken?: number | null;
  /** Why it was skipped or lost. */
  reason?: string;
  durationMs?: number;
  ttl?: number;
  /** Error text of `failed` and `store-error` events. */
  message?: string;
}

/**
 * Subscribes to this app's lock events and hands them to {@link InstanceConfig.onLockEvent}.
 * The same few lines are how you would feed metrics or alerts from the lock.
 */
@Injectable()
export class LockEventsListener implements OnModuleInit {
  constructor(
    private readonly locks: CronLockService,
    private readonly config: InstanceConfig,
  ) {}

  onModuleInit(): void {
    const emit = (
      type: CronLockEventName,
      event: { name: string; scheduledAt: Date | null },
      extra: Partial<LockEventRecord> = {},
    ): void =>
      this.config.onLockEvent({
        instance: this.locks.instanceId,
        type,
        job: event.name,
        scheduledAt: event.scheduledAt?.getTime() ?? null,
        ...extra,
      });

    this.locks.on('acquired', (e) => emit('acquired', e, { fencingToken: e.fencingToken }));
    this.locks.on('skipped', (e) => emit('skipped', e, { reason: e.reason }));
    this.locks.on('renewed', (e) =>
      emit('renewed', e, { fencingToken: e.fencingToken, ttl: e.ttl }),
    );
    this.locks.on('lost', (e) =>
      emit('lost', e, { fencingToken: e.fencingToken, reason: e.reason }),
    );
    this.locks.on('completed', (e) =>
      emit('completed', e, { fencingToken: e.fencingToken, durationMs: e.durationMs }),
    );
    this.locks.on('failed', (e) =>
      emit('failed', e, {
        fencingToken: e.fencingToken,
        durationMs: e.durationMs,
        message: e.error instanceof Error ? e.error.message : String(e.error),
      }),
    );
    this.locks.on('store-error', (e) =>
      emit('store-error', e, { reason: e.operation, message: e.message }),
    );
  }
}
