import {
  BadRequestException,
  Injectable,
  Body,
  ConflictException,
  ForbiddenException,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  NotImplementedException,
  Param,
  Post,
  Req,
  ServiceUnavailableException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { CRON_LOCK_STORE, LOCK_NAME_PATTERN } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { CronLockService } from '../cron-lock.service.js';
import type { LockStore } from '../stores/lock-store.interface.js';
import { lockTokenReader } from '../stores/lock-token.js';
import { describeStoreError, keptPauseNote } from '../utils/redact.js';
import { header, type AnyRequest } from './dashboard.controller.js';
import { DashboardData } from './dashboard.data.js';
import { csrfTokensMatch } from './csrf.js';
import { CONTENT_SECURITY_POLICY, CSRF_HEADER } from './dashboard.constants.js';
import { safeText } from './escape.js';
import { parseActionBody, type ActionBody } from './action-body.js';

type Action = 'pause' | 'resume' | 'trigger' | 'release';

/**
 * @internal The operator's actions, mounted only with `actions: true`, behind the guard like
 * every dashboard route: POST only, each with the CSRF token of the page in a header, and a
 * release only with `{ confirm: <job name> }` (the page asks first).
 */
@Injectable()
export class DashboardActionsController {
  constructor(
    private readonly data: DashboardData,
    private readonly service: CronLockService,
    @Inject(CRON_LOCK_STORE) private readonly store: LockStore,
  ) {}

  @Post('api/jobs/:name/:action')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  // Set before the handler runs, so a refusal (CSRF, bad body, unknown job) carries it too.
  @Header('X-Content-Type-Options', 'nosniff')
  async act(
    @Req() request: AnyRequest,
    @Param('name') name: string,
    @Param('action') action: string,
    @Body() body: unknown,
  ): Promise<{ message: string }> {
    checkCsrf(request);
    if (!isAction(action)) {
      throw new NotFoundException(
        `No action "${safeText(action)}": use pause, resume, trigger or release.`,
      );
    }
    checkJsonBody(request);
    if (!LOCK_NAME_PATTERN.test(name) || !(await this.data.knows(name))) {
      throw new NotFoundException(`No job "${safeText(name)}" under this key prefix.`);
    }
    const parsed = parseActionBody(action, name, body);
    try {
      const message = await this.perform(action, name, parsed);
      this.data.logger.info(`Dashboard: ${message}`);
      return { message };
    } catch (error) {
      if (error instanceof Error && 'getStatus' in error) {
        throw error;
      }
      if (error instanceof CronLockConfigError) {
        // A refused argument (a reason with control characters, a store without pause): its
        // message names the call and the fix, and carries nothing from the store.
        throw new BadRequestException(error.message);
      }
      // Never the raw error: a driver error can carry the store's address or credentials.
      throw new ServiceUnavailableException(
        `${action} of "${name}" failed: ${describeStoreError(error)}`,
      );
    }
  }

  private async perform(action: Action, name: string, body: ActionBody): Promise<string> {
    switch (action) {
      case 'pause':
        // Only the fields the form filled in: the service refuses a key present but undefined.
        await this.service.pause(name, {
          ...(body.reason !== undefined && { reason: body.reason }),
          ...(body.until !== undefined && { until: body.until }),
        });
        // The note as the service kept it: the line goes to the app's logs, the answer to the
        // page, and neither may carry the password of a URL the operator quoted.
        return `paused ${name}${body.reason ? ` (reason: ${keptPauseNote(body.reason)})` : ''}`;
      case 'resume':
        return (await this.service.resume(name)) ? `resumed ${name}` : `${name} was not paused`;
      case 'trigger': {
        const result = await this.service.trigger(
          name,
          body.force === undefined ? undefined : { force: body.force },
        );
        // Every field of a reply goes out through safeText, as every value from the store: the
        // built-in channels take only well-formed replies, a custom store's channel may not check.
        if (!result.ran) {
          throw new ConflictException(`${name} did not run: ${safeText(result.reason)}.`);
        }
        return `triggered ${name}: running on ${safeText(result.instanceId)} (fence ${safeText(result.fencingToken)})`;
      }
      case 'release':
        return this.release(name);
    }
  }

  /**
   * A forced release, as the CLI's: the owner-checked release with the token read just before,
   * so a lock that changed hands in between (released, then taken by a new run) is never freed.
   * The occurrence marker and fencing counter stay.
   */
  private async release(name: string): Promise<string> {
    const readToken = lockTokenReader(this.store);
    if (readToken === undefined) {
      throw new NotImplementedException(
        "This lock store cannot read a lock's owner: release it with its own tools.",
      );
    }
    const token = await readToken(name);
    if (token === null) {
      throw new ConflictException(`The lock of "${name}" is free: nothing to release.`);
    }
    const released = await this.store.release({ name, token });
    if (!released) {
      throw new ConflictException(
        `The lock of "${name}" changed since it was read: nothing was released.`,
      );
    }
    return `released the lock of ${name}`;
  }
}

function isAction(action: string): action is Action {
  return action === 'pause' || action === 'resume' || action === 'trigger' || action === 'release';
}

/**
 * A body must be sent as JSON. Express leaves a body of another type unread, so the action would
 * run without its fields: `fetch()` with a string body and no content type sends `text/plain`,
 * and a pause until a given time would pause the job for good. No body at all is fine.
 */
function checkJsonBody(request: AnyRequest): void {
  const length = Number(header(request, 'content-length') ?? 0);
  const hasBody = header(request, 'transfer-encoding') !== undefined || length > 0;
  const type = header(request, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (hasBody && type !== 'application/json') {
    throw new UnsupportedMediaTypeException(
      'The body must be JSON, sent with content-type: application/json.',
    );
  }
}

function checkCsrf(request: AnyRequest): void {
  // A browser says where a request comes from; anything but the page's own origin is refused.
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') {
    throw new ForbiddenException('Cross-site request refused.');
  }
  if (!csrfTokensMatch(header(request, 'cookie'), header(request, CSRF_HEADER))) {
    throw new ForbiddenException(
      'Missing or wrong CSRF token: reload the dashboard page and try again.',
    );
  }
}
