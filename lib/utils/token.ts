import { createHash, randomBytes } from 'node:crypto';

/** A fresh owner token for one acquisition: unguessable, so only its holder can renew or release. */
export function createOwnerToken(): string {
  return randomBytes(16).toString('hex');
}

/**
 * A short, stable, non-reversible tag for a token, for logs and events: enough to correlate
 * lines, never enough to renew or release someone else's lock.
 */
export function tokenTag(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8);
}
