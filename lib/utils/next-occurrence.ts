import { createCronTime, zoneOf } from './occurrence.js';

/**
 * The next occurrence of a cron expression after `now` (ms since epoch), read in `timeZone` (an
 * IANA zone or a fixed offset such as `UTC+05:30`; `null`: this process's local time); `null`
 * when there is no expression, or when it no longer parses (a store holds what an instance of
 * another version registered: never a reason to fail).
 */
export function nextOccurrence(
  cron: string | null | undefined,
  timeZone: string | null | undefined,
  now: number = Date.now(),
): number | null {
  if (typeof cron !== 'string' || cron === '') {
    return null;
  }
  try {
    const time = createCronTime(cron, timeZone ?? undefined);
    // The zone passed on: `cron` would read the start in this process's zone otherwise, and the
    // job's own zone (or fixed offset, registered as `UTC+05:30`) would be ignored.
    const next = time.getNextDateFrom(new Date(now), zoneOf(time)).toMillis();
    return Number.isFinite(next) ? next : null;
  } catch {
    return null;
  }
}
