import {
  Injectable,
  Module,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ScheduleModule } from '@nestjs/schedule';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CRON_LOCK_STORE,
  CronLockConfigError,
  CronLockModule,
  type RedisLockStore,
} from 'nestjs-cron-lock';
import { CronLockDashboardModule } from 'nestjs-cron-lock/dashboard';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/redis.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import {
  csrfOf,
  DashboardJobs,
  holdLock,
  OpenGuard,
  startInstance,
  TokenGuard,
  urlOf,
  type FleetApp,
} from './support/fleet.js';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const AUTH = { authorization: 'Bearer s3cret-admin-token' };

describe('dashboard over HTTP (Express), actions on, behind a token guard', () => {
  let instance: FleetApp;
  let page: string;

  beforeAll(async () => {
    instance = await startInstance(testRedisUrl(), uniquePrefix('dash-http'), 'instance-a', {
      path: '/cron-lock',
      guard: new TokenGuard('s3cret-admin-token'),
      actions: true,
    });
    page = `${await urlOf(instance.app)}/cron-lock`;
  });

  afterAll(async () => {
    await instance?.app.close();
  });

  it('refuses every route without the guard’s credentials', async () => {
    for (const path of ['', '/api/jobs', '/dashboard.js', '/dashboard.css']) {
      expect((await fetch(`${page}${path}`)).status).toBe(403);
    }
    const post = await fetch(`${page}/api/jobs/sync/pause`, { method: 'POST' });
    expect(post.status).toBe(403);
    expect((await instance.locks.inspect('sync')).paused).toBe(false);
  });

  it('serves the page with a strict CSP, a SameSite cookie and relative links only', async () => {
    const response = await fetch(page, { headers: AUTH });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(CSP);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('set-cookie')).toMatch(
      /^cron_lock_csrf=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict$/,
    );
    const html = await response.text();
    expect(html).not.toMatch(/<script>|<style>| style=| on[a-z]+=/);
    const links = [...html.matchAll(/(?:href|src|content)="([^"]*\/[^"]*)"/g)].map((m) => m[1]);
    expect(links).toEqual([
      'cron-lock/api/',
      'cron-lock/dashboard.css',
      'cron-lock/dashboard.js',
      'cron-lock/api/jobs',
    ]);
    // With a trailing slash, the same links are written from the page's own directory.
    const slash = await (await fetch(`${page}/`, { headers: AUTH })).text();
    expect(slash).toContain('href="./dashboard.css"');
  });

  it('refuses an action without the CSRF token, with a wrong one, or from another site', async () => {
    const { cookie, token } = await csrfOf(page, AUTH);
    const pause = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${page}/api/jobs/sync/pause`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ reason: 'maintenance' }),
      });
    expect((await pause({ cookie })).status).toBe(403);
    expect((await pause({ 'x-cron-lock-csrf': token })).status).toBe(403);
    expect(
      (
        await pause({
          cookie,
          'x-cron-lock-csrf': token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
        })
      ).status,
    ).toBe(403);
    expect(
      (await pause({ cookie, 'x-cron-lock-csrf': token, 'sec-fetch-site': 'cross-site' })).status,
    ).toBe(403);
    expect((await instance.locks.inspect('sync')).paused).toBe(false);

    const accepted = await pause({ cookie, 'x-cron-lock-csrf': token });
    expect(accepted.status).toBe(200);
    expect((await instance.locks.inspect('sync')).pauseReason).toBe('maintenance');
    const resumed = await fetch(`${page}/api/jobs/sync/resume`, {
      method: 'POST',
      headers: { ...AUTH, cookie, 'x-cron-lock-csrf': token },
    });
    expect(resumed.status).toBe(200);
    expect((await instance.locks.inspect('sync')).paused).toBe(false);
  });

  it('releases only with the job name confirmed, and never shows the lock token', async () => {
    const hold = holdLock(instance, 'sync');
    try {
      await waitFor(async () => (await instance.locks.inspect('sync')).holder === 'instance-a');
      const { cookie, token } = await csrfOf(page, AUTH);
      const store = instance.app.get<RedisLockStore>(CRON_LOCK_STORE);
      const lockToken = (await store.client.get(store.keysOf('sync').lock))!;
      expect(lockToken).toMatch(/^[0-9a-f]{32}$/);
      const json = await (await fetch(`${page}/api/jobs`, { headers: AUTH })).text();
      const html = await (await fetch(page, { headers: AUTH })).text();
      for (const text of [json, html]) {
        expect(text).not.toContain(lockToken);
        expect(text).not.toContain(testRedisUrl());
      }
      const release = (body: unknown): Promise<Response> =>
        fetch(`${page}/api/jobs/sync/release`, {
          method: 'POST',
          headers: {
            ...AUTH,
            cookie,
            'x-cron-lock-csrf': token,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
      expect((await release({})).status).toBe(400);
      expect((await release({ confirm: 'reports.yearly' })).status).toBe(400);
      expect((await instance.locks.inspect('sync')).holder).toBe('instance-a');
      expect((await release({ confirm: 'sync' })).status).toBe(200);
      expect((await instance.locks.inspect('sync')).holder).toBeNull();
      expect((await release({ confirm: 'sync' })).status).toBe(409);
    } finally {
      hold.stop();
      await hold.done;
    }
  });

  it('refuses a body that is not JSON instead of acting without it', async () => {
    const { cookie, token } = await csrfOf(page, AUTH);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    // fetch() sends a string body as text/plain unless told otherwise: a script's usual slip.
    const response = await fetch(`${page}/api/jobs/sync/pause`, {
      method: 'POST',
      headers: { ...AUTH, cookie, 'x-cron-lock-csrf': token },
      body: JSON.stringify({ reason: 'deploy', until }),
    });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { message: string }).message).toMatch(
      /content-type: application\/json/,
    );
    // Not paused for good, without the reason and the end it was given.
    expect((await instance.locks.inspect('sync')).paused).toBe(false);
  });

  it('answers 404 for a job outside the prefix and 400 for an unknown field', async () => {
    const { cookie, token } = await csrfOf(page, AUTH);
    const headers = {
      ...AUTH,
      cookie,
      'x-cron-lock-csrf': token,
      'content-type': 'application/json',
    };
    expect((await fetch(`${page}/api/jobs/nope/pause`, { method: 'POST', headers })).status).toBe(
      404,
    );
    const unknown = await fetch(`${page}/api/jobs/sync/trigger`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ everywhere: true }),
    });
    expect(unknown.status).toBe(400);
  });

  it('sends nosniff, the CSP and no-store on every answer of an action, accepted or refused', async () => {
    const { cookie, token } = await csrfOf(page, AUTH);
    const json = { ...AUTH, cookie, 'x-cron-lock-csrf': token, 'content-type': 'application/json' };
    const answers = {
      accepted: await fetch(`${page}/api/jobs/sync/resume`, { method: 'POST', headers: json }),
      'no CSRF token': await fetch(`${page}/api/jobs/sync/resume`, {
        method: 'POST',
        headers: AUTH,
      }),
      'unknown job': await fetch(`${page}/api/jobs/nope/resume`, { method: 'POST', headers: json }),
      'bad body': await fetch(`${page}/api/jobs/sync/pause`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ reason: 42 }),
      }),
    };
    const seen = Object.entries(answers).map(([answer, response]) => ({
      answer,
      nosniff: response.headers.get('x-content-type-options'),
      csp: response.headers.get('content-security-policy'),
      cache: response.headers.get('cache-control'),
    }));
    expect(seen).toEqual(
      Object.keys(answers).map((answer) => ({
        answer,
        nosniff: 'nosniff',
        csp: CSP,
        cache: 'no-store',
      })),
    );
    expect(Object.values(answers).map((response) => response.status)).toEqual([200, 403, 404, 400]);
  });
});

describe('dashboard read-only (the default)', () => {
  let instance: FleetApp;

  afterAll(async () => {
    await instance?.app.close();
  });

  it('shows no action, sets no cookie and has no action route', async () => {
    instance = await startInstance(testRedisUrl(), uniquePrefix('dash-ro'), 'instance-a', {
      path: '/admin/cron-lock',
    });
    const page = `${await urlOf(instance.app)}/admin/cron-lock`;
    const response = await fetch(page);
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBeNull();
    const html = await response.text();
    expect(html).not.toContain('<button');
    expect(html).toContain('<th scope="row">sync</th>');
    const post = await fetch(`${page}/api/jobs/sync/pause`, { method: 'POST' });
    expect(post.status).toBe(404);
    const json = (await (await fetch(`${page}/api/jobs`)).json()) as {
      actions: boolean;
      jobs: { name: string }[];
    };
    expect(json.actions).toBe(false);
    expect(json.jobs.map((job) => job.name)).toEqual(['reports.yearly', 'sync']);
  });
});

describe('dashboard options checked at bootstrap', () => {
  it('refuses actions without a guard, naming the fix', () => {
    expect(() => CronLockDashboardModule.forRoot({ path: '/cron-lock', actions: true })).toThrow(
      CronLockConfigError,
    );
    expect(() => CronLockDashboardModule.forRoot({ path: '/cron-lock', actions: true })).toThrow(
      /CronLockDashboardModule\.forRoot: actions: true needs a guard.*Fix: pass guard/,
    );
  });

  it('refuses a path, guard or option it cannot use', () => {
    for (const options of [
      { path: '' },
      { path: 'cron-lock' },
      { path: '/cron lock' },
      { path: '/a/<b>' },
      { path: '/cron-lock', guard: {} },
      { path: '/cron-lock', actions: 'yes' },
      { path: '/cron-lock', refreshInterval: '10ms' },
      { path: '/cron-lock', histroyLimit: 5 },
    ]) {
      expect(() => CronLockDashboardModule.forRoot(options as never)).toThrow(CronLockConfigError);
    }
  });
});

describe('dashboard options present but undefined', () => {
  // `guard: config.get('ADMIN') ? AdminGuard : undefined` must not mount an unguarded page.
  it.each(['guard', 'actions', 'imports', 'refreshInterval', 'historyLimit'])(
    'refuses %s: undefined instead of taking its default, naming the option and the fix',
    (option) => {
      expect(() =>
        CronLockDashboardModule.forRoot({ path: '/cron-lock', [option]: undefined }),
      ).toThrow(CronLockConfigError);
      expect(() =>
        CronLockDashboardModule.forRoot({ path: '/cron-lock', [option]: undefined }),
      ).toThrow(new RegExp(`CronLockDashboardModule\\.forRoot: option ${option} .*Fix:`));
    },
  );
});

describe('dashboard on the Fastify adapter', () => {
  let instance: FleetApp;

  afterAll(async () => {
    await instance?.app.close();
  });

  it('serves the page, its assets and its JSON, and takes an action', async () => {
    instance = await startInstance(
      testRedisUrl(),
      uniquePrefix('dash-fastify'),
      'instance-f',
      { path: '/cron-lock', guard: OpenGuard, actions: true },
      new FastifyAdapter(),
    );
    const page = `${await urlOf(instance.app)}/cron-lock`;
    const response = await fetch(page);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(CSP);
    const html = await response.text();
    expect(html).toContain('<th scope="row">sync</th>');
    const script = await fetch(`${page}/dashboard.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain("'use strict'");
    const json = (await (await fetch(`${page}/api/jobs`)).json()) as { jobs: { name: string }[] };
    expect(json.jobs.map((job) => job.name)).toEqual(['reports.yearly', 'sync']);

    const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
    const token = /<meta name="cron-lock-csrf" content="([^"]+)">/.exec(html)![1]!;
    const paused = await fetch(`${page}/api/jobs/sync/pause`, {
      method: 'POST',
      headers: { cookie, 'x-cron-lock-csrf': token, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'fastify' }),
    });
    expect(paused.status).toBe(200);
    expect((await instance.locks.inspect('sync')).pauseReason).toBe('fastify');
    const refused = await fetch(`${page}/api/jobs/sync/resume`, {
      method: 'POST',
      headers: { cookie },
    });
    expect(refused.status).toBe(403);
  });
});

@Injectable()
class SessionStore {
  isAdmin(cookie: unknown): boolean {
    return typeof cookie === 'string' && cookie.includes('session=admin');
  }
}

@Module({ providers: [SessionStore], exports: [SessionStore] })
class AuthModule {}

/** The app's own auth guard, with a dependency of its own (from `imports`). */
@Injectable()
class SessionGuard implements CanActivate {
  constructor(private readonly sessions: SessionStore) {}
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    return this.sessions.isAdmin(request.headers.cookie);
  }
}

describe('dashboard behind the app’s own guard class', () => {
  let instance: FleetApp;

  afterAll(async () => {
    await instance?.app.close();
  });

  it('creates the guard with its dependencies from imports, and lets only it decide', async () => {
    instance = await startInstance(testRedisUrl(), uniquePrefix('dash-guard'), 'instance-g', {
      path: '/cron-lock',
      guard: SessionGuard,
      imports: [AuthModule],
      actions: true,
    });
    const page = `${await urlOf(instance.app)}/cron-lock`;
    expect((await fetch(page)).status).toBe(403);
    expect((await fetch(page, { headers: { cookie: 'session=guest' } })).status).toBe(403);
    expect((await fetch(page, { headers: { cookie: 'session=admin' } })).status).toBe(200);
  });

  it('answers 503 with a redacted reason when the store is unreachable', async () => {
    const down = await startInstance(
      'redis://dash-user:hunter2-secret@127.0.0.1:1',
      uniquePrefix('dash-down'),
      'instance-d',
      { path: '/cron-lock' },
    );
    try {
      const response = await fetch(`${await urlOf(down.app)}/cron-lock/api/jobs`);
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(text).toMatch(/lock store did not answer/);
      expect(text).not.toContain('hunter2-secret');
    } finally {
      await down.app.close();
    }
  });
});

/**
 * The app's guard of a sliding session: it renews the session cookie on each request it lets in,
 * with the adapter's own call (Express's `res.cookie()`, a Fastify reply's `header()`).
 */
class RenewingSessionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const response = context.switchToHttp().getResponse<{
      cookie?: (name: string, value: string, options: object) => void;
      header?: (name: string, value: string) => void;
    }>();
    if (typeof response.cookie === 'function') {
      response.cookie('session', 'renewed', { httpOnly: true });
    } else {
      response.header!('set-cookie', 'session=renewed; Path=/; HttpOnly');
    }
    return true;
  }
}

describe.each([
  { adapter: 'Express', create: () => undefined },
  { adapter: 'Fastify', create: () => new FastifyAdapter() },
])('dashboard page behind a guard that renews the app’s session cookie ($adapter)', (setup) => {
  let instance: FleetApp;

  afterAll(async () => {
    await instance?.app.close();
  });

  it('keeps the app’s cookie beside its own CSRF cookie', async () => {
    instance = await startInstance(
      testRedisUrl(),
      uniquePrefix('dash-cookies'),
      'instance-c',
      { path: '/cron-lock', guard: new RenewingSessionGuard(), actions: true },
      setup.create(),
    );
    const response = await fetch(`${await urlOf(instance.app)}/cron-lock`);
    expect(response.status).toBe(200);
    const names = response.headers.getSetCookie().map((cookie) => cookie.split('=')[0]);
    // Dropping the renewed session cookie would log the operator out, or let the session lapse.
    expect(names.sort()).toEqual(['cron_lock_csrf', 'session']);
  });
});

describe('dashboard with actions while the lock store is unreachable', () => {
  let down: FleetApp;
  let page: string;

  beforeAll(async () => {
    down = await startInstance(
      'redis://dash-user:hunter2-secret@127.0.0.1:1',
      uniquePrefix('dash-down-actions'),
      'instance-d',
      { path: '/cron-lock', guard: OpenGuard, actions: true },
    );
    page = `${await urlOf(down.app)}/cron-lock`;
  });

  afterAll(async () => {
    await down?.app.close();
  });

  it('renders the page as HTML with the store error, not a raw JSON error', async () => {
    const response = await fetch(page);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(CSP);
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(
      /<p id="store-error" role="alert">The lock store did not answer: LockStoreError: [^<]+<\/p>/,
    );
    expect(html).not.toContain('hunter2-secret');
    // Neither "no job yet", which would be untrue, nor a page without its script, which
    // redraws the table once the store answers again.
    expect(html).toContain('<p id="empty" hidden>');
    expect(html).toContain('<script src="cron-lock/dashboard.js" defer></script>');
  });

  it('answers an action 503 with a redacted reason, as documented, not a bare 500', async () => {
    // A well-formed double-submit pair: the CSRF check passes, the store is what fails.
    const token = 'A'.repeat(43);
    const response = await fetch(`${page}/api/jobs/sync/pause`, {
      method: 'POST',
      headers: {
        cookie: `cron_lock_csrf=${token}`,
        'x-cron-lock-csrf': token,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ reason: 'maintenance' }),
    });
    expect(response.status).toBe(503);
    const answer = (await response.json()) as { message: string };
    expect(answer.message).toMatch(/lock store did not answer: LockStoreError/);
    expect(answer.message).not.toContain('hunter2-secret');
  });
});

describe("dashboard actions log through CronLockModule's logger", () => {
  let app: INestApplication | undefined;

  afterAll(async () => {
    await app?.close();
  });

  it('writes the action line to the module logger, and nothing to the app logger', async () => {
    const moduleLogger = new CapturingLogger();
    const appLogger = new CapturingLogger();
    @Module({
      imports: [
        ScheduleModule.forRoot(),
        CronLockModule.forRoot({
          redis: testRedisUrl(),
          keyPrefix: uniquePrefix('dash-log'),
          logger: moduleLogger,
        }),
        CronLockDashboardModule.forRoot({ path: '/cron-lock', guard: OpenGuard, actions: true }),
      ],
      providers: [DashboardJobs],
    })
    class LoggedApp {}
    app = await NestFactory.create(LoggedApp, { logger: appLogger });
    await app.listen(0, '127.0.0.1');
    const page = `${await urlOf(app)}/cron-lock`;
    const response = await fetch(page);
    const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
    const token = /<meta name="cron-lock-csrf" content="([^"]+)">/.exec(await response.text())![1]!;
    const paused = await fetch(`${page}/api/jobs/sync/pause`, {
      method: 'POST',
      headers: { cookie, 'x-cron-lock-csrf': token, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'audit' }),
    });
    expect(paused.status).toBe(200);
    const dashboardLines = (logger: CapturingLogger): string[] =>
      logger.lines.map((line) => line.message).filter((message) => message.startsWith('Dashboard'));
    // The module's logger (and its logger: false) governs every line the package writes.
    expect(dashboardLines(moduleLogger)).toEqual([expect.stringContaining('sync')]);
    expect(dashboardLines(appLogger)).toEqual([]);
  });
});
