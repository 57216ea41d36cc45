import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers } from './postgres-server.js';
import { postgresOsUser, waitForExit } from './processes.js';
import { findFreePort } from './redis-server.js';

export interface PgBouncerHandle {
  readonly port: number;
  /** The upstream URL with PgBouncer's host and port in place of the server's. */
  readonly url: string;
  readonly pid: number;
  /** SIGINT (shut down now), then SIGKILL; resolves once it exited, and removes its files. */
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per database/user pair. */
  poolSize?: number;
  poolMode?: 'session' | 'transaction' | 'statement';
  startTimeoutMs?: number;
}

const MISSING_MESSAGE =
  'pgbouncer was not found. The PgBouncer tests need a real one: install it ' +
  '(Debian/Ubuntu: `apt-get install pgbouncer`).';

/** `"` inside a userlist.txt field is doubled. */
const quoted = (value: string): string => `"${value.replace(/"/g, '""')}"`;

/**
 * Starts a private PgBouncer in front of the PostgreSQL at `upstreamUrl`: config and auth file in
 * a temporary directory, listening on a free port of 127.0.0.1, in the foreground as our direct
 * child (so stopping its pid stops it). Resolves once a query through it answers.
 */
export async function startPgBouncer(
  upstreamUrl: string,
  opts: PgBouncerOptions = {},
): Promise<PgBouncerHandle> {
  const probe = spawnSync('pgbouncer', ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error(MISSING_MESSAGE);
  const upstream = new URL(upstreamUrl);
  const user = decodeURIComponent(upstream.username) || 'postgres';
  const password = decodeURIComponent(upstream.password);
  const database = decodeURIComponent(upstream.pathname.replace(/^\//, '')) || user;
  const os = postgresOsUser('pgbouncer');
  const root = mkdtempSync(join(tmpdir(), 'cron-lock-pgbouncer-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const port = await findFreePort();
  const config = join(root, 'pgbouncer.ini');
  const userlist = join(root, 'userlist.txt');
  // The plain password in the auth file lets PgBouncer answer the server's SCRAM challenge.
  writeFileSync(userlist, `${quoted(user)} ${quoted(password)}\n`, { mode: 0o600 });
  writeFileSync(
    config,
    [
      '[databases]',
      `${database} = host=${upstream.hostname} port=${upstream.port || '5432'} dbname=${database}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      `auth_type = ${password ? 'md5' : 'trust'}`,
      `auth_file = ${userlist}`,
      `pool_mode = ${opts.poolMode ?? 'transaction'}`,
      `default_pool_size = ${opts.poolSize ?? 2}`,
      'max_client_conn = 200',
      'ignore_startup_parameters = extra_float_digits,options',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (os) {
    for (const path of [root, config, userlist]) chownSync(path, os.uid, os.gid);
  }
  const asUser: SpawnOptions = os ? { uid: os.uid, gid: os.gid } : {};
  const child = spawn('pgbouncer', [config], {
    ...asUser,
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const bouncerUrl = url.toString();

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      if (!(await waitForExit(child, 10_000))) {
        child.kill('SIGKILL');
        await waitForExit(child, 5_000);
      }
    }
    rmSync(root, { recursive: true, force: true });
  };

  const startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`pgbouncer exited during startup on port ${port}:\n${output.trim()}`);
    }
    if (await answers(bouncerUrl)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `pgbouncer did not answer on port ${port} within ${startTimeoutMs} ms:\n${output.trim()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return { port, url: bouncerUrl, pid: child.pid ?? -1, stop };
}
