/* Messages of a job's schedule inputs that lib/cron-lock.messages.ts has no room for. */

/**
 * A one-shot date `@nestjs/schedule` would start the job after: at bootstrap (`delay` 0), or once
 * `initialDelay` is over. `cron` then throws "Date in past", out of the delay's timer if any.
 */
export const ONE_SHOT_PASSED = (job: string, at: number, delay: number): string =>
  `${job}: the one-shot date ${new Date(at).toISOString()} ` +
  (delay > 0
    ? `comes before its initialDelay of ${delay}ms ends, when @nestjs/schedule would start the job and the cron package throw "Date in past". `
    : `has passed: the cron package refuses to start a job at a past date. `) +
  `Fix: give a later date${delay > 0 ? ' or a shorter initialDelay' : ''}, set disabled: true, or remove the job once it has run.`;
