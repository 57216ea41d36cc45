import { Injectable } from '@nestjs/common';
import { LockedCron, type LockContext } from 'nestjs-cron-lock';

/** The digest's period: 3 seconds, so the sample shows a catch-up within seconds. */
export const DIGEST_PERIOD_MS = 3_000;

/**
 * A job that must not silently skip an occurrence, such as a digest e-mail: with
 * `catchUp: 'latest'`, the occurrences that passed while no instance was up are not lost. The
 * first instance to start again runs the latest of them once, fleet-wide, with
 * `ctx.trigger === 'catch-up'` and `ctx.scheduledAt` set to that occurrence; the older ones are
 * reported as missed (a `missed` event and a log line). In a real app the schedule would be
 * hourly or daily, and the window (`catchUpWindow`, default one day) says how far back to look.
 *
 * The store remembers the last occurrence run: Redis and PostgreSQL across restarts of every
 * process, the in-memory store only while its process lives (the sample restarts an app inside
 * the process that holds it).
 */
@Injectable()
export class DigestService {
  @LockedCron(`*/${DIGEST_PERIOD_MS / 1_000} * * * * *`, {
    name: 'digest',
    ttl: '5s',
    catchUp: 'latest',
  })
  async sendDigest(ctx: LockContext): Promise<void> {
    if (ctx.trigger === 'catch-up') {
      // Scheduled runs are in the sample's report already; a catch-up is worth a line of its own.
      console.log(
        `${clock(ctx.scheduledAt)}  digest  caught up on ${ctx.instanceId} ` +
          `(ctx.trigger '${ctx.trigger}', fence ${ctx.fencingToken}): the fleet was down at that time`,
      );
    }
  }
}

/** Local wall-clock time, `HH:MM:SS`. */
function clock(date: Date): string {
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, '0'))
    .join(':');
}
