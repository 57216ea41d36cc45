import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForExit } from './processes.js';

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. `['--requirepass', 'secret']`. */
  args?: string[];
  /** Use this port instead of a free one picked at random (e.g. to restart on the same port). */
  port?: number;
  /** How long to wait for the server to answer PING. Default 10 s. */
  startTimeoutMs?: number;
  /**
   * A config file, passed as redis-server's first argument (where redis-server requires it),
   * e.g. a Sentinel's writable config together with `args: ['--sentinel']`.
   */
  configFile?: string;
}

export interface RedisServerHandle {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (no credentials, even when `--requirepass` was passed). */
  readonly url: string;
  /** Pid of the current redis-server process (changes after `restart()`). */
  readonly pid: number;
  /** SIGTERM, then SIGKILL if still alive after a grace period; resolves once the process exited. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) without waiting; e.g. to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops (if running) and starts a new server on the same port with the same arguments. */
  restart(): Promise<void>;
  /** True while the spawned process has not exited. */
  isRunning(): boolean;
}

const MISSING_MESSAGE =
  '`redis-server` was not found on PATH. The tests need a real Redis server. Either install it ' +
  '(Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or set REDIS_URL ' +
  'to an existing server (e.g. REDIS_URL=redis://127.0.0.1:6379) that the tests may write to.';

let redisServerChecked = false;

function assertRedisServerAvailable(): void {
  if (redisServerChecked) return;
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error(MISSING_MESSAGE);
  redisServerChecked = true;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

interface Probe {
  /** The server accepted the connection and answered (possibly with an auth error). */
  up: boolean;
  /** `process_id` from `INFO server`, when readable without auth. */
  pid?: number;
}

/** Sends `INFO server` over a raw socket; `-NOAUTH`/`-ERR` still prove a server is listening. */
function probe(port: number, timeoutMs = 500): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let buffer = '';
    const done = (result: Probe) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ up: false }));
    socket.once('error', () => done({ up: false }));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      if (buffer.startsWith('-')) {
        if (buffer.includes('\r\n')) done({ up: !buffer.startsWith('-LOADING') });
        return;
      }
      const header = /^\$(\d+)\r\n/.exec(buffer);
      if (!header) return;
      if (Buffer.byteLength(buffer) < header[0].length + Number(header[1])) return;
      const pid = /process_id:(\d+)/.exec(buffer);
      done({ up: true, pid: pid ? Number(pid[1]) : undefined });
    });
    socket.connect(port, '127.0.0.1', () => socket.write('INFO server\r\n'));
  });
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The servers' directories not removed yet; the `exit` hook removes what a test left running. */
const liveDirs = new Set<string>();
let exitHooked = false;

function removeDir(dir: string): void {
  liveDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A temporary directory for one server's files (replication writes an RDB even with `--save ''`),
 * removed when the server is stopped: Vitest ends its worker processes without an `exit` event.
 */
function scratchDir(): string {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => [...liveDirs].forEach(removeDir));
  }
  const dir = mkdtempSync(join(tmpdir(), 'cron-lock-redis-'));
  liveDirs.add(dir);
  return dir;
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
}

async function spawnOnPort(
  port: number,
  args: string[],
  startTimeoutMs: number,
  dir: string,
  configFile?: string,
): Promise<Spawned> {
  const child = spawn(
    'redis-server',
    [
      ...(configFile === undefined ? [] : [configFile]),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      // Replication writes an RDB even with --save '': keep it out of the working directory.
      '--dir',
      dir,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > 20_000) output = output.slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const deadline = Date.now() + startTimeoutMs;
  let interval = 10;
  let upWithoutPid = 0;
  for (;;) {
    const exited = child.exitCode !== null || child.signalCode !== null;
    if (exited) {
      const error = new Error(
        `redis-server exited during startup on port ${port} (code ${child.exitCode}, signal ` +
          `${child.signalCode}). Output:\n${output.trim()}`,
      );
      (error as Error & { portInUse?: boolean }).portInUse = /address already in use/i.test(output);
      throw error;
    }
    const raced = await Promise.race([probe(port), spawnError]);
    if (raced instanceof Error) {
      throw (raced as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(MISSING_MESSAGE) : raced;
    }
    // Only accept an answer from our own child: if another process owns the port, ours exits
    // with "Address already in use" (handled above on the next iteration).
    const alive = child.exitCode === null && child.signalCode === null;
    // Without a readable pid (e.g. --requirepass), trust the "ready" log line, or a second
    // consecutive answer while our child is still alive (for a quieter --loglevel).
    upWithoutPid = raced.up && raced.pid === undefined ? upWithoutPid + 1 : 0;
    const ours =
      raced.pid === undefined
        ? /ready to accept connections/i.test(output) || upWithoutPid >= 2
        : raced.pid === child.pid;
    if (raced.up && alive && ours) {
      return { child, output: () => output };
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
      throw new Error(
        `redis-server did not answer PING on port ${port} within ${startTimeoutMs} ms. ` +
          `Output:\n${output.trim()}`,
      );
    }
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(interval * 2, 100);
  }
}

/**
 * Starts a private, throwaway redis-server on a free port of 127.0.0.1 (no persistence) and
 * resolves once it answers PING.
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  assertRedisServerAvailable();
  const args = opts.args ?? [];
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;

  const dir = scratchDir();
  let spawned: Spawned | undefined;
  let port = opts.port ?? 0;
  for (let attempt = 1; !spawned; attempt++) {
    if (opts.port === undefined) port = await findFreePort();
    try {
      spawned = await spawnOnPort(port, args, startTimeoutMs, dir, opts.configFile);
    } catch (error) {
      const retriable = (error as { portInUse?: boolean }).portInUse === true;
      if (!retriable || opts.port !== undefined || attempt >= 5) {
        removeDir(dir);
        throw error;
      }
    }
  }

  let current: Spawned = spawned;
  const fixedPort = port;

  const stopProcess = async (): Promise<void> => {
    const child = current.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (await waitForExit(child, 5_000)) return;
    child.kill('SIGKILL');
    if (!(await waitForExit(child, 5_000)) && child.pid !== undefined && isPidAlive(child.pid)) {
      throw new Error(`redis-server (pid ${child.pid}) did not exit after SIGKILL`);
    }
  };

  return {
    port: fixedPort,
    url: `redis://127.0.0.1:${fixedPort}`,
    get pid(): number {
      return current.child.pid ?? -1;
    },
    async stop(): Promise<void> {
      await stopProcess();
      removeDir(dir);
    },
    kill(signal: NodeJS.Signals = 'SIGKILL'): void {
      current.child.kill(signal);
    },
    async restart(): Promise<void> {
      await stopProcess();
      // A server stopped before may be started again: its directory comes back with it.
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      liveDirs.add(dir);
      // The port may linger briefly; retry until the deadline instead of sleeping.
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        try {
          current = await spawnOnPort(fixedPort, args, startTimeoutMs, dir, opts.configFile);
          return;
        } catch (error) {
          if ((error as { portInUse?: boolean }).portInUse !== true || Date.now() > deadline) {
            throw error;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    isRunning(): boolean {
      return current.child.exitCode === null && current.child.signalCode === null;
    },
  };
}
