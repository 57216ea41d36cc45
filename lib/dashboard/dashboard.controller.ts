import {
  Get,
  Header,
  Inject,
  Injectable,
  Query,
  Req,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { CONTENT_SECURITY_POLICY } from './dashboard.constants.js';
import { DashboardData } from './dashboard.data.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type { ResolvedDashboardOptions } from './dashboard.options.js';
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE } from './dashboard.script.js';
import type { DashboardSnapshot } from './dashboard.types.js';
import { csrfCookie, csrfTokenFrom, newCsrfToken } from './csrf.js';
import { renderPage } from './page.js';

/** What a request looks like to both adapters (Express's and Fastify's requests carry these). */
export interface AnyRequest {
  headers: Record<string, string | string[] | undefined>;
}

/**
 * @internal The read-only routes: the page, its script and style, and its JSON. Mounted under
 * the configured path by {@link CronLockDashboardModule} (a subclass per `forRoot`, with the
 * guard), and plain Nest routes, so that the app's adapter (Express or Fastify), global prefix,
 * global guards and interceptors apply as to any controller of the app.
 */
@Injectable()
export class DashboardController {
  constructor(
    protected readonly data: DashboardData,
    @Inject(DASHBOARD_OPTIONS) protected readonly options: ResolvedDashboardOptions,
    protected readonly adapterHost: HttpAdapterHost,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  @Header('Cache-Control', 'no-store')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('X-Frame-Options', 'DENY')
  @Header('Referrer-Policy', 'no-referrer')
  async page(
    @Req() request: AnyRequest,
    @Res({ passthrough: true }) response: unknown,
    @Query('job') filter: unknown,
  ): Promise<string> {
    let csrfToken: string | null = null;
    if (this.options.actions) {
      const cookie = header(request, 'cookie');
      csrfToken = csrfTokenFrom(cookie) ?? newCsrfToken();
      // Appended: the app's guard or middleware may have set a cookie on this answer already
      // (a renewed session), which Express's setHeader would replace.
      this.adapterHost.httpAdapter.appendHeader(
        response,
        'Set-Cookie',
        csrfCookie(csrfToken, isHttps(request)),
      );
    }
    let snapshot: DashboardSnapshot;
    let storeError: string | null = null;
    try {
      snapshot = await this.data.snapshot(filter);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) {
        throw error;
      }
      // A person opened this page: the exception filter would answer them a JSON blob. They get
      // the page, empty, with the (already redacted) reason, and its script fills the table in
      // once the store answers again.
      this.adapterHost.httpAdapter.status(response, 503);
      storeError = error.message;
      snapshot = this.data.emptySnapshot(filter);
    }
    return renderPage(snapshot, {
      base: this.baseOf(request),
      csrfToken,
      refreshIntervalMs: this.options.refreshIntervalMs,
      historyLimit: this.options.historyLimit,
      storeError,
    });
  }

  @Get('dashboard.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  script(): string {
    return DASHBOARD_SCRIPT;
  }

  @Get('dashboard.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  style(): string {
    return DASHBOARD_STYLE;
  }

  @Get('api/jobs')
  @Header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  @Header('Cache-Control', 'no-store')
  @Header('X-Content-Type-Options', 'nosniff')
  jobs(@Query('job') filter: unknown): Promise<DashboardSnapshot> {
    return this.data.snapshot(filter);
  }

  /**
   * The relative prefix of the page's own routes. `/x/cron-lock` links to `cron-lock/…`, and
   * `/x/cron-lock/` to `./…`: both resolve under whatever prefix the browser saw, which a proxy
   * may have added in front of the app's own path.
   */
  private baseOf(request: AnyRequest): string {
    const url = String(this.adapterHost.httpAdapter.getRequestUrl(request) ?? '');
    const path = url.split('?')[0]!;
    if (path.endsWith('/')) {
      return './';
    }
    return `${this.options.path.slice(this.options.path.lastIndexOf('/') + 1)}/`;
  }
}

/** One request header as text (the first, when repeated). */
export function header(request: AnyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isHttps(request: AnyRequest): boolean {
  const forwarded = header(request, 'x-forwarded-proto')?.split(',')[0]?.trim();
  const socket = request as {
    socket?: { encrypted?: boolean };
    raw?: { socket?: { encrypted?: boolean } };
  };
  return (
    forwarded === 'https' ||
    socket.socket?.encrypted === true ||
    socket.raw?.socket?.encrypted === true
  );
}
