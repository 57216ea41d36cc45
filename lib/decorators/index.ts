export * from './cron-lock.decorator.js';
export * from './locked-cron.decorator.js';
