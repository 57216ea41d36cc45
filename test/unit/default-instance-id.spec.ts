// The default instance id starts with the host name, which the kernel keeps as bytes it never
// checks (sethostname(2) takes a newline or an escape): the default must not carry what an
// instanceId option may not.
import { MemoryLockStore } from 'nestjs-cron-lock';
import { describe, expect, it, vi } from 'vitest';
import { resolveModuleOptions } from '../../lib/options/module-options.js';

vi.mock('node:os', async (importOriginal) => {
  const os = await importOriginal<typeof import('node:os')>();
  return { ...os, hostname: () => 'node-a\n\u001b[31mforged\u0085\u2028' };
});

describe('the default instanceId', () => {
  it('never carries a control character or line separator from the host name', () => {
    const { instanceId } = resolveModuleOptions({ store: new MemoryLockStore(), logger: false });
    // eslint-disable-next-line no-control-regex -- control characters are what is checked
    expect(instanceId).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(instanceId).toMatch(/^node-a\?\?\[31mforged\?\?:\d+:[0-9a-f]{4}$/);
  });
});
