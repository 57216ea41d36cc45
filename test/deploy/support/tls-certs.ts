import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findFreePort,
  startRedisServer,
  type RedisServerHandle,
} from '../../support/redis-server.js';

/** A throwaway CA and a server certificate it signed, for `localhost` and `127.0.0.1`. */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA certificate's PEM text, as a user passes it in `tls.ca`. */
  readonly ca: string;
  /** Deletes the files. */
  remove(): void;
}

function openssl(dir: string, command: string): void {
  const args = command.split(' ');
  const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(
      `openssl ${args[0]} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr}`,
    );
  }
}

/** Makes a CA and a server certificate with `openssl`, in a fresh temporary directory. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'cron-lock-tls-'));
  // Relative file names (cwd is the directory), so the arguments never contain spaces.
  openssl(
    dir,
    'req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.crt -subj /CN=test-CA',
  );
  openssl(
    dir,
    'req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost',
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    dir,
    'x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out server.crt -extfile server.ext',
  );
  const caFile = join(dir, 'ca.crt');
  return {
    dir,
    caFile,
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    ca: readFileSync(caFile, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsRedisServer {
  /** The plain-TCP side (the harness probes it; tests use it as the admin connection). */
  readonly server: RedisServerHandle;
  readonly tlsPort: number;
  /** `rediss://127.0.0.1:<tlsPort>`. */
  readonly tlsUrl: string;
}

/**
 * Starts a redis-server that serves TLS on a free port (server certificate only, clients need
 * none) and keeps a plain port for the harness's probe and for admin commands.
 */
export async function startTlsRedisServer(
  certs: TestCertificates,
  args: string[] = [],
): Promise<TlsRedisServer> {
  for (let attempt = 1; ; attempt++) {
    const tlsPort = await findFreePort();
    try {
      const server = await startRedisServer({
        args: [
          '--tls-port',
          String(tlsPort),
          '--tls-cert-file',
          certs.certFile,
          '--tls-key-file',
          certs.keyFile,
          '--tls-ca-cert-file',
          certs.caFile,
          '--tls-auth-clients',
          'no',
          ...args,
        ],
      });
      return { server, tlsPort, tlsUrl: `rediss://127.0.0.1:${tlsPort}` };
    } catch (error) {
      // The TLS port may have been taken between the pick and the start: pick another.
      if (attempt >= 5 || !/address already in use/i.test(String(error))) {
        throw error;
      }
    }
  }
}
