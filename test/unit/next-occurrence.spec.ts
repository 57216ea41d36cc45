// The next run that inspect(), the CLI's status and the dashboard show: read in the job's own
// zone (or fixed offset), whatever zone the reading process is in.
import { describe, expect, it } from 'vitest';
import { nextOccurrence } from '../../lib/utils/next-occurrence.js';

const NOW = Date.UTC(2030, 0, 15, 12, 0, 0);

describe('nextOccurrence', () => {
  it('reads the expression in the time zone the job registered, not the process zone', () => {
    // 09:00 in Kiritimati (UTC+14) is 19:00Z the day before; no process zone is UTC+14 but this.
    expect(new Date(nextOccurrence('0 9 * * *', 'Pacific/Kiritimati', NOW)!).toISOString()).toBe(
      '2030-01-15T19:00:00.000Z',
    );
  });

  it('reads the expression at the fixed offset a utcOffset job registers (UTC+05:30)', () => {
    expect(new Date(nextOccurrence('0 9 * * *', 'UTC+05:30', NOW)!).toISOString()).toBe(
      '2030-01-16T03:30:00.000Z',
    );
    expect(new Date(nextOccurrence('0 10 * * *', 'UTC-03:00', NOW)!).toISOString()).toBe(
      '2030-01-15T13:00:00.000Z',
    );
  });
});
