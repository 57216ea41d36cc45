import { createHash, randomFillSync } from 'node:crypto';

const TOKEN_CHARS = 32;
const POOL_TOKENS = 256;
const pool = Buffer.allocUnsafe((TOKEN_CHARS / 2) * POOL_TOKENS);
/** The pool's bytes in hex, encoded once per refill. */
let poolHex = '';
let poolOffset = 0;

/**
 * A fresh owner token for one acquisition (128 random bits, 32 hex characters): unguessable, so
 * only its holder can renew or release. Random bytes are drawn 4 KB at a time, as
 * `crypto.randomUUID()` does, and turned into hex in one call, because a `randomBytes` call, or
 * a hex encoding, per run was a visible share of a lock cycle's CPU; every byte is still used
 * once only.
 */
export function createOwnerToken(): string {
  if (poolOffset >= poolHex.length) {
    randomFillSync(pool);
    poolHex = pool.toString('hex');
    poolOffset = 0;
  }
  const token = poolHex.slice(poolOffset, poolOffset + TOKEN_CHARS);
  poolOffset += TOKEN_CHARS;
  return token;
}

/**
 * A short, stable, non-reversible tag for a token, for logs and events: enough to correlate
 * lines, never enough to renew or release someone else's lock.
 */
export function tokenTag(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8);
}
