// The default instance id starts with the host name, which the kernel keeps as bytes it never
// checks (sethostname(2) takes a newline or an escape): the default must not carry what an
// instanceId option may not, nor a URL's credentials, which no output may show.
import { MemoryLockStore } from 'nestjs-cron-lock';
import { describe, expect, it, vi } from 'vitest';
import { resolveModuleOptions } from '../../lib/options/module-options.js';

const host = vi.hoisted(() => ({ name: '' }));

vi.mock('node:os', async (importOriginal) => {
  const os = await importOriginal<typeof import('node:os')>();
  return { ...os, hostname: () => host.name };
});

describe('the default instanceId', () => {
  it('never carries a control character or line separator from the host name', () => {
    host.name = 'node-a\n\u001b[31mforged\u0085\u2028';
    const { instanceId } = resolveModuleOptions({ store: new MemoryLockStore(), logger: false });
    // eslint-disable-next-line no-control-regex -- control characters are what is checked
    expect(instanceId).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(instanceId).toMatch(/^node-a\?\?\[31mforged\?\?:\d+:[0-9a-f]{4}$/);
  });

  it('hides the password of a URL in the host name, as every output does', () => {
    host.name = 'redis://default:s3cret@cache';
    const { instanceId } = resolveModuleOptions({ store: new MemoryLockStore(), logger: false });
    expect(instanceId).toMatch(/^redis:\/\/default:\*\*\*@cache:\d+:[0-9a-f]{4}$/);
  });
});
