import 'reflect-metadata';

export { CronLockTestingModule, type CronLockTestingOptions } from './cron-lock-testing.module.js';
export { runLockedJob, type RunLockedJobOptions } from './run-locked-job.js';
export { overrideCronLockModule } from './override-cron-lock-module.js';
export {
  describeLockStoreContract,
  newLockToken,
  type ContractTestApi,
  type LockStoreFixture,
} from './lock-store-contract.js';
