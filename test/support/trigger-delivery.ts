import { expect } from 'vitest';
import type { CapturingLogger } from './capturing-logger.js';
import { waitFor } from './redis.js';

/**
 * Publishes a new trigger every poll until one of them is heard: a channel recovering from a
 * broken connection misses what was sent before it listens again, so one trigger proves nothing.
 * `publish(id)` sends a trigger request with that id; `received` is what the subscriber heard.
 */
export async function publishUntilHeard(
  publish: (id: string) => Promise<unknown>,
  received: readonly string[],
  prefix: string,
  options: { timeout: number; message: string },
): Promise<void> {
  await waitFor(
    async () => {
      await publish(`${prefix}-${received.length}`);
      return received.some((id) => id.startsWith(prefix));
    },
    { timeout: options.timeout, interval: 250, message: options.message },
  );
}

/** The trigger channel logged exactly one line for the outage: a warning matching `pattern`. */
export function expectOneChannelWarning(logger: CapturingLogger, pattern: RegExp): void {
  const lines = logger.lines.filter((line) => line.message.includes('Trigger channel'));
  expect(lines.map((line) => [line.level, line.message])).toEqual([
    ['warn', expect.stringMatching(pattern)],
  ]);
}
