import { Module, type DynamicModule } from '@nestjs/common';
import type { LockStore } from 'nestjs-cron-lock';
import type { LockEventRecord } from './lock-events.listener.js';

/**
 * What differs between the sample's instances: their name, where their locks live, and where
 * their lock events go. In a real app this would come from `ConfigService` (see the README).
 */
export class InstanceConfig {
  constructor(
    /** `instance-a`, `instance-b`, … as it appears in logs, events and `inspect()`. */
    readonly instanceId: string,
    /** A Redis URL (one process per instance) or a store shared by apps in one process. */
    readonly lockStore: { redis: string } | { store: LockStore },
    /** Receives every lock event of this instance (the report printer, or the IPC channel). */
    readonly onLockEvent: (event: LockEventRecord) => void,
  ) {}
}

/** Makes one {@link InstanceConfig} injectable everywhere in one app, like `ConfigModule`. */
@Module({})
export class InstanceConfigModule {
  static register(config: InstanceConfig): DynamicModule {
    return {
      module: InstanceConfigModule,
      global: true,
      providers: [{ provide: InstanceConfig, useValue: config }],
      exports: [InstanceConfig],
    };
  }
}
