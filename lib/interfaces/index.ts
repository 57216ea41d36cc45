export * from './cron-lock-module-options.interface.js';
export * from './lock-context.interface.js';
export * from './lock-store.interface.js';
export * from './locked-cron-options.interface.js';
