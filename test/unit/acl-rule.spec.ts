import { describe, expect, it } from 'vitest';
import { CronLockConfigError, cronLockAclRule } from 'nestjs-cron-lock';

/** What `cronLockAclRule(keyPrefix)` threw, or `undefined`. */
function thrownBy(keyPrefix: unknown): unknown {
  try {
    cronLockAclRule(keyPrefix as string);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('cronLockAclRule', () => {
  it('refuses a keyPrefix it can make no rule for with a CronLockConfigError naming itself and the fix', () => {
    for (const keyPrefix of ['', 'has space', 'x'.repeat(65), 'app:*', 42, null]) {
      const error = thrownBy(keyPrefix);

      expect(error, JSON.stringify(keyPrefix)).toBeInstanceOf(CronLockConfigError);
      expect((error as Error).message).toMatch(
        /^cronLockAclRule: keyPrefix .+ is not a valid keyPrefix\. Fix: use 1 to 64 characters among A-Z a-z 0-9 \. _ : -$/,
      );
    }
  });

  it('gives the rule of the default prefix when called without one', () => {
    expect(cronLockAclRule()).toMatch(
      /^resetkeys ~cron-lock:\* resetchannels &cron-lock:triggers -@all /,
    );
  });
});
