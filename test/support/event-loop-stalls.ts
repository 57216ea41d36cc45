import { wallNow } from './run-log.js';

/** How often the watch samples the event loop, in ms. */
const SAMPLE_EVERY_MS = 50;

/**
 * Records when this process's event loop ran its timers, to tell a scheduler tick that never fired
 * because the process stood still (a loaded machine) from one the code under test lost. `cron`
 * fires a late tick once and names the next one from the time it fires: an occurrence whose
 * whole period went by without the timers running is never fired, by any app in the process.
 */
export class EventLoopStalls {
  private readonly samples: number[] = [wallNow()];
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.samples.push(wallNow()), SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Whether the timers ran nowhere in [`from` + `slackMs`, `to` − `slackMs`] (wall-clock ms), the
   * slack covering the sampling interval and the clocks' rounding.
   */
  stoodStill(from: number, to: number, slackMs = 2 * SAMPLE_EVERY_MS): boolean {
    return !this.samples.some((at) => at > from + slackMs && at < to - slackMs);
  }
}
