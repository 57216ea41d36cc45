import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where distributions install libfaketime (Debian/Ubuntu multiarch, Fedora, Alpine, source builds). */
const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu/faketime',
  '/usr/lib/aarch64-linux-gnu/faketime',
  '/usr/lib/faketime',
  '/usr/lib64/faketime',
  '/usr/local/lib/faketime',
  '/usr/local/lib',
];

const MISSING =
  "libfaketime was not found. The clock-skew scenario shifts one worker's wall clock with it. " +
  'Install it (Debian/Ubuntu: `apt-get install faketime`; Fedora: `dnf install libfaketime`) ' +
  'or point FAULT_LIBFAKETIME at libfaketime.so.1. It works on Linux only (LD_PRELOAD).';

/** Absolute path of libfaketime.so.1 (FAULT_LIBFAKETIME wins); throws with the fix if absent. */
export function findLibfaketime(): string {
  const candidates = [
    process.env.FAULT_LIBFAKETIME,
    ...LIB_DIRS.map((dir) => join(dir, 'libfaketime.so.1')),
  ].filter((path): path is string => typeof path === 'string' && path !== '');
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(MISSING);
  return found;
}

/**
 * Environment that shifts a process's wall clock by `offsetSeconds` (e.g. 1.5 or -1.5) and
 * leaves its monotonic clock alone: timers, performance.now() and the lock's renewal deadlines
 * keep real time, while Date.now() — which cron and the occurrence computation read — is off.
 *
 * FAKETIME takes a relative offset in seconds, "+1.5" / "-1.5" (libfaketime parses it with
 * strtod, so LC_ALL=C keeps "." the decimal separator). FAKETIME_DONT_FAKE_MONOTONIC=1 is the
 * variable behind `faketime --exclude-monotonic`: without it, libfaketime fakes CLOCK_MONOTONIC
 * too (it then reads like the wall clock), which breaks comparing monotonic times across
 * processes. Note that performance.timeOrigin is taken from the faked wall clock, so
 * `performance.timeOrigin + performance.now()` is shifted as well.
 */
export function faketimeEnv(offsetSeconds: number): Record<string, string> {
  const sign = offsetSeconds < 0 ? '-' : '+';
  return {
    LD_PRELOAD: findLibfaketime(),
    FAKETIME: `${sign}${Math.abs(offsetSeconds)}`,
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    LC_ALL: 'C',
  };
}
