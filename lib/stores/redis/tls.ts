import type { ConnectionOptions } from 'node:tls';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import {
  REDIS_SETTING_INVALID,
  TLS_WITHOUT_REDISS,
  type RedisSettingSource,
} from './redis.messages.js';
import { connectionOptionsOf } from './redis-connection.js';

const TLS_SECTION = "see docs/deploying.md, 'TLS'";

/** Node's codes for a certificate chain that does not lead to a trusted CA. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/**
 * Checks the `tls` settings of a client the module or a store creates, so that a CA file path in place of
 * its contents, or TLS settings on a plain `redis://` URL (ioredis would then speak TLS to a
 * plain port), fail at bootstrap instead of as a handshake error on every tick.
 * Returns the message of the first problem, or `undefined`.
 */
export function tlsSettingsProblem(
  options: RedisOptions & { url?: string },
  source: RedisSettingSource,
): string | undefined {
  const tls: unknown = options.tls;
  if (tls === undefined) {
    return undefined;
  }
  if (typeof tls !== 'object' || tls === null || Array.isArray(tls)) {
    return REDIS_SETTING_INVALID(source, 'redis.tls', 'an object of Node TLS options', tls);
  }
  const { rejectUnauthorized, ca } = tls as ConnectionOptions;
  if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') {
    return REDIS_SETTING_INVALID(
      source,
      'redis.tls.rejectUnauthorized',
      'true or false',
      rejectUnauthorized,
    );
  }
  for (const entry of ca === undefined ? [] : Array.isArray(ca) ? ca : [ca]) {
    const text =
      typeof entry === 'string' ? entry : Buffer.isBuffer(entry) ? entry.toString() : null;
    if (text === null || !text.includes('-----BEGIN')) {
      return REDIS_SETTING_INVALID(
        source,
        'redis.tls.ca',
        "the CA certificate's PEM text or a Buffer, e.g. readFileSync('ca.pem') (not a file path)",
        entry,
      );
    }
  }
  if (typeof options.url === 'string' && /^redis:\/\//i.test(options.url)) {
    return TLS_WITHOUT_REDISS(source);
  }
  return undefined;
}

/**
 * Whether a client's options turn certificate verification off, for the one startup warning.
 * Reads only the client's own options, never the process-wide environment override.
 */
export function certificateVerificationOff(client: Redis | Cluster): boolean {
  const options = connectionOptionsOf(client);
  const settings = [
    options?.tls,
    options?.enableTLSForSentinelMode ? options.sentinelTLS : undefined,
  ];
  return settings.some(
    (tls) => typeof tls === 'object' && tls !== null && tls.rejectUnauthorized === false,
  );
}

/** What a TLS connection error means and how to fix it, or `undefined` for any other error. */
export function tlsHint(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNTRUSTED_CERTIFICATE.has(code)) {
    return (
      `Redis TLS certificate not trusted (${code}: self-signed or unknown CA). ` +
      `Fix: pass the CA as redis.tls.ca, or opt out with redis.tls.rejectUnauthorized: false; ${TLS_SECTION}`
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return (
      'Redis TLS certificate is not valid for this host name. ' +
      `Fix: connect by a name the certificate lists, or set redis.tls.servername; ${TLS_SECTION}`
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `Redis TLS certificate is outside its validity period (${code}); ${TLS_SECTION}`;
  }
  return undefined;
}
