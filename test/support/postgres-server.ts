import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postgresOsUser, waitForExit } from './processes.js';
import { findFreePort } from './redis-server.js';

/** Password of the `postgres` role of the test server: tests check that no error ever shows it. */
export const TEST_POSTGRES_PASSWORD = 'pg-test-secret-7f3a';

export interface PostgresServerHandle {
  readonly port: number;
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** Pid of the current postmaster (changes after `restart()`). */
  readonly pid: number;
  /**
   * Fast shutdown (SIGINT), then immediate (SIGQUIT); resolves once the postmaster exited. Removes
   * the data directory: the end of this server.
   */
  stop(): Promise<void>;
  /** Stops the server as {@link stop} does, keeping its data for {@link start}: an outage. */
  halt(): Promise<void>;
  /** Starts the server again after `halt()`, on the same port and data. */
  start(): Promise<void>;
  /** Stops (fast, or immediate like a crash) and starts again on the same port and data. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  isRunning(): boolean;
}

const MISSING_MESSAGE =
  'PostgreSQL server binaries (initdb, postgres) were not found. The tests need a real ' +
  'PostgreSQL. Either install it (Debian/Ubuntu: `apt-get install postgresql`) or set ' +
  'DATABASE_URL to a database the tests may create tables in.';

/** initdb and postgres: PG_BIN, then the newest /usr/lib/postgresql/<v>/bin, then PATH. */
function binary(name: 'initdb' | 'postgres'): string {
  const dirs: string[] = [];
  if (process.env.PG_BIN) dirs.push(process.env.PG_BIN);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((v) => join(debian, v, 'bin')));
  }
  for (const dir of dirs) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  const probe = spawnSync(name, ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error(MISSING_MESSAGE);
  return name;
}

/** Answers `SELECT 1`, or not yet. */
export async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts a private, throwaway PostgreSQL (initdb into a temporary directory, then `postgres` on a
 * free port of 127.0.0.1) and resolves once it answers. The postmaster is our direct child, so
 * stopping its pid stops the server.
 */
export async function startPostgresServer(
  opts: { startTimeoutMs?: number } = {},
): Promise<PostgresServerHandle> {
  const initdb = binary('initdb');
  const postgres = binary('postgres');
  const user = postgresOsUser('the server', MISSING_MESSAGE);
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const root = mkdtempSync(join(tmpdir(), 'cron-lock-pg-'));
  const data = join(root, 'data');
  const pwfile = join(root, 'pwfile');
  writeFileSync(pwfile, `${TEST_POSTGRES_PASSWORD}\n`, { mode: 0o600 });
  if (user) {
    chownSync(root, user.uid, user.gid);
    chownSync(pwfile, user.uid, user.gid);
  }
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  const asUser: SpawnOptions = user ? { uid: user.uid, gid: user.gid } : {};

  const init = spawnSync(
    initdb,
    [
      '-D',
      data,
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--locale=C',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      `--pwfile=${pwfile}`,
      '--no-sync',
    ],
    { ...asUser, encoding: 'utf8', cwd: root },
  );
  if (init.error || init.status !== 0) {
    throw new Error(`initdb failed: ${init.error?.message ?? ''}\n${init.stdout}${init.stderr}`);
  }

  const port = await findFreePort();
  const url = `postgres://postgres:${TEST_POSTGRES_PASSWORD}@127.0.0.1:${port}/postgres`;

  const spawnServer = async (): Promise<ChildProcess> => {
    const child = spawn(
      postgres,
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        root,
        '-c',
        'listen_addresses=127.0.0.1',
        // A process crash (kill -9), never an OS crash, is what the tests inject: the page cache
        // survives it, so fsync only costs time.
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=200',
      ],
      { ...asUser, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`postgres exited during startup on port ${port}:\n${output.trim()}`);
      }
      if (await answers(url)) return child;
      if (Date.now() > deadline) {
        child.kill('SIGQUIT');
        await waitForExit(child, 5_000);
        throw new Error(
          `postgres did not answer on port ${port} within ${startTimeoutMs} ms:\n${output.trim()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  let current = await spawnServer();

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const child = current;
    if (child.exitCode !== null || child.signalCode !== null) return;
    // SIGINT: fast shutdown (backends end, checkpoint). SIGQUIT: immediate, as a crash; the next
    // start replays the WAL. Never SIGKILL first: the postmaster's children would outlive it.
    child.kill(signal);
    if (await waitForExit(child, 15_000)) return;
    child.kill('SIGQUIT');
    if (await waitForExit(child, 10_000)) return;
    child.kill('SIGKILL');
    await waitForExit(child, 5_000);
  };

  return {
    port,
    url,
    get pid(): number {
      return current.pid ?? -1;
    },
    async stop(): Promise<void> {
      await stopWith('SIGINT');
      // Also here, not only on exit: a test worker may be ended without running exit hooks.
      rmSync(root, { recursive: true, force: true });
    },
    halt: () => stopWith('SIGINT'),
    async start(): Promise<void> {
      if (current.exitCode === null && current.signalCode === null) return;
      current = await spawnServer();
    },
    async restart(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
      await stopWith(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      current = await spawnServer();
    },
    isRunning(): boolean {
      return current.exitCode === null && current.signalCode === null;
    },
  };
}
