import { describeStoreError } from '../../utils/redact.js';
import { accessHint } from './acl.js';
import { tlsHint } from './tls.js';

/**
 * A redacted one-line description of a Redis error, led by what it means and the fix when it is
 * a known deployment mistake (an untrusted TLS certificate, a missing ACL permission, a wrong
 * password), so the store-error line itself tells the operator what to change.
 */
export function describeRedisError(error: unknown, secrets: readonly string[] = []): string {
  const detail = describeStoreError(error, secrets);
  const hint = tlsHint(error) ?? accessHint(error);
  return hint === undefined ? detail : `${hint} (${detail})`;
}
