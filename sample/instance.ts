import 'reflect-metadata';
import type { INestApplicationContext, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { fileURLToPath } from 'node:url';
import { AppModule } from './app.module.js';
import { InstanceConfig } from './instance.config.js';
import type { LockEventRecord } from './lock-events.listener.js';

/**
 * Starts one instance of the sample app: a standalone application context (a worker with no
 * HTTP server), or with `serveDashboard` an HTTP app that serves the read-only dashboard on
 * SAMPLE_DASHBOARD_PORT (default: a free port) and prints its URL. Nest's logger is at
 * warn/error so only problems reach the console.
 */
export async function startInstance(
  config: InstanceConfig,
  serveDashboard = false,
): Promise<INestApplicationContext> {
  const options = { logger: ['warn', 'error'] as LogLevel[], abortOnError: false };
  if (!serveDashboard) {
    return NestFactory.createApplicationContext(AppModule.forInstance(config), options);
  }
  const app = await NestFactory.create(AppModule.forInstance(config), options);
  await app.listen(Number(process.env.SAMPLE_DASHBOARD_PORT ?? 0), '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  console.log(`Dashboard (read-only, served by ${config.instanceId}): ${url}/cron-lock`);
  return app;
}

/** Messages a forked instance sends to the sample's parent process. */
export type InstanceMessage =
  | { kind: 'ready'; instance: string }
  | { kind: 'event'; event: LockEventRecord }
  | { kind: 'closed'; instance: string };

/**
 * Redis mode: this file is forked once per instance (`instance.ts <instance-id>`), with
 * REDIS_URL in its environment. It forwards its lock events over IPC, and closes its app when
 * the parent says `stop`, on Ctrl-C, or when the parent goes away.
 */
async function runForked(): Promise<void> {
  const instanceId = process.argv[2];
  const redisUrl = process.env.REDIS_URL;
  if (!instanceId || !redisUrl || !process.send) {
    throw new Error(
      'usage: fork sample/instance.ts <instance-id> with REDIS_URL set and an IPC channel',
    );
  }
  const send = (message: InstanceMessage): Promise<void> =>
    new Promise((resolve) => {
      if (!process.connected) {
        resolve();
        return;
      }
      process.send!(message, undefined, {}, () => resolve());
    });

  const app = await startInstance(
    new InstanceConfig(
      instanceId,
      { redis: redisUrl },
      (event) => void send({ kind: 'event', event }),
    ),
    process.env.SAMPLE_SERVE_DASHBOARD === '1',
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Waits for a running job (up to shutdownTimeout), releases its lock, closes the client.
      await app.close();
      await send({ kind: 'closed', instance: instanceId });
      process.disconnect?.();
    })());

  process.on('message', (message) => {
    if (message === 'stop') {
      void close();
    }
  });
  process.on('disconnect', () => void close());
  // Ctrl-C reaches every process of the terminal's group: close cleanly, the parent reports.
  process.on('SIGINT', () => void close());
  process.on('SIGTERM', () => void close());
  await send({ kind: 'ready', instance: instanceId });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runForked().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
    process.disconnect?.();
  });
}
