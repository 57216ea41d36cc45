import { BadRequestException } from '@nestjs/common';

/** What an action's JSON body may carry. */
export interface ActionBody {
  reason?: string;
  until?: Date;
  force?: boolean;
}

const MAX_REASON = 200;
const ALLOWED: Record<string, readonly string[]> = {
  pause: ['reason', 'until'],
  resume: [],
  trigger: ['force'],
  release: ['confirm'],
};

/**
 * Checks an action's body: known keys only, a reason of at most 200 characters, an ISO `until`
 * in the future, a boolean `force`, and for a release `confirm` equal to the job's name (the
 * page asks the operator first; a script must say which lock it means).
 */
export function parseActionBody(action: string, name: string, body: unknown): ActionBody {
  const given = (body ?? {}) as Record<string, unknown>;
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new BadRequestException('The body must be a JSON object.');
  }
  for (const key of Object.keys(given)) {
    if (!ALLOWED[action]!.includes(key)) {
      throw new BadRequestException(`Unknown field "${key.slice(0, 40)}" for ${action}.`);
    }
  }
  const parsed: ActionBody = {};
  if (given.reason !== undefined && given.reason !== '') {
    if (typeof given.reason !== 'string' || given.reason.length > MAX_REASON) {
      throw new BadRequestException(`reason must be text of at most ${MAX_REASON} characters.`);
    }
    parsed.reason = given.reason;
  }
  if (given.until !== undefined) {
    const until = typeof given.until === 'string' ? new Date(given.until) : undefined;
    if (until === undefined || Number.isNaN(until.getTime()) || until.getTime() <= Date.now()) {
      throw new BadRequestException('until must be an ISO 8601 time in the future.');
    }
    parsed.until = until;
  }
  if (given.force !== undefined) {
    if (typeof given.force !== 'boolean') {
      throw new BadRequestException('force must be true or false.');
    }
    parsed.force = given.force;
  }
  if (action === 'release' && given.confirm !== name) {
    throw new BadRequestException(
      `A release needs { "confirm": "${name}" }: the name of the job whose lock is freed.`,
    );
  }
  return parsed;
}
