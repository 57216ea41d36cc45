import { createHash, randomFillSync } from 'node:crypto';

const TOKEN_BYTES = 16;
const POOL_TOKENS = 256;
const pool = Buffer.allocUnsafe(TOKEN_BYTES * POOL_TOKENS);
let poolOffset = pool.length;

/**
 * A fresh owner token for one acquisition (128 random bits, 32 hex characters): unguessable, so
 * only its holder can renew or release. Random bytes are drawn 4 KB at a time, as
 * `crypto.randomUUID()` does, because one `randomBytes` call per run was a visible share of a
 * lock cycle's CPU; every byte is still used once only.
 */
export function createOwnerToken(): string {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const token = pool.toString('hex', poolOffset, poolOffset + TOKEN_BYTES);
  poolOffset += TOKEN_BYTES;
  return token;
}

/**
 * A short, stable, non-reversible tag for a token, for logs and events: enough to correlate
 * lines, never enough to renew or release someone else's lock.
 */
export function tokenTag(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8);
}
