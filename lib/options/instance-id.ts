import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DISPLAY_CONTROLS, PAUSE_NOTE_FORBIDDEN } from '../cron-lock.constants.js';
import { CronLockConfigError } from '../cron-lock.errors.js';
import { INVALID_MODULE_OPTION } from '../cron-lock.messages.js';
import { describeValue } from '../utils/describe-value.js';
import { redactUrl } from '../utils/redact.js';

/** The longest `instanceId` the module takes. */
export const MAX_INSTANCE_ID_LENGTH = 200;

/**
 * Whether `value` passes the rules {@link resolveInstanceId} enforces for an id's text: a string,
 * not blank, at most {@link MAX_INSTANCE_ID_LENGTH} characters, one line of printable characters.
 * For an id read from elsewhere (another instance's trigger reply). A connection string passes,
 * though {@link resolveInstanceId} refuses one for this instance: every output redacts an id read
 * from a reply, so refusing it would hide nothing.
 */
export function isInstanceIdText(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.trim() !== '' &&
    value.length <= MAX_INSTANCE_ID_LENGTH &&
    !PAUSE_NOTE_FORBIDDEN.test(value)
  );
}

/**
 * An `instanceId` with a control character, a line separator or a bidi override. The id is quoted
 * with those escaped (`\u0085`), as JSON quotes a newline: the message must not carry what it
 * refuses.
 */
export const INSTANCE_ID_CONTROL_CHARACTER = (value: string): string =>
  `CronLockModule: option instanceId must be one line of printable characters, got ` +
  `${describeValue(value).replace(DISPLAY_CONTROLS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)}: ` +
  `it is written into every log line, the lock's holder and history, events, the CLI's tables ` +
  `and the dashboard, where a line break or an escape splits or forges a line and a bidi ` +
  `override reorders one. Fix: remove it; ` +
  `an id read from a file or a command keeps its trailing newline, so trim it, e.g. ` +
  `readFileSync('/etc/hostname', 'utf8').trim().`;

/**
 * An `instanceId` that a URL's redaction would change: a connection string with a user, a
 * password or a secret query parameter, as two environment variables swapped give. Quoted
 * redacted, as every rejected value is.
 */
export const INSTANCE_ID_CONNECTION_STRING = (value: string): string =>
  `CronLockModule: option instanceId must name this instance, got ${describeValue(value)}: it ` +
  `looks like a connection string (two environment variables swapped?), and the id is written ` +
  `into every log line, the lock's holder and history, events, the CLI's tables and the ` +
  `dashboard, which would show its credentials. Fix: set instanceId to a name, e.g. the pod ` +
  `name, or leave it out for the default <hostname>:<pid>:<random>.`;

/**
 * The `instanceId` module option, checked, or the default when it is left out. Throws
 * {@link CronLockConfigError} naming the option and the fix.
 */
export function resolveInstanceId(value: unknown): string {
  const instanceId = value ?? defaultInstanceId();
  // A blank id ('   ', as a template with an unset variable gives) would leave every instance's
  // log lines and inspect() holder unreadable and indistinguishable.
  if (
    typeof instanceId !== 'string' ||
    instanceId.trim() === '' ||
    instanceId.length > MAX_INSTANCE_ID_LENGTH
  ) {
    throw new CronLockConfigError(
      INVALID_MODULE_OPTION(
        'instanceId',
        `a string of at most ${MAX_INSTANCE_ID_LENGTH} characters, not blank`,
        instanceId,
      ),
    );
  }
  // Refused, never trimmed or replaced: the id is the operator's, and one quietly altered would
  // no longer match what they look for in their logs and the store.
  if (PAUSE_NOTE_FORBIDDEN.test(instanceId)) {
    throw new CronLockConfigError(INSTANCE_ID_CONTROL_CHARACTER(instanceId));
  }
  // Refused rather than kept redacted: a connection string is never the name that was meant, and
  // a redacted id would show everywhere as one the operator never set. The one redaction of URLs
  // decides, so an id passes here exactly when no output would hide part of it.
  if (redactUrl(instanceId) !== instanceId) {
    throw new CronLockConfigError(INSTANCE_ID_CONNECTION_STRING(instanceId));
  }
  return instanceId;
}

/**
 * `<hostname>:<pid>:<random>`. The kernel keeps the host name as bytes it never checks
 * (sethostname(2) takes a newline or an escape), so what an `instanceId` may not carry becomes
 * `?` here, as the CLI shows such characters, and a host name that quotes a URL's user info
 * loses it, as in every output: the user set nothing that could be refused.
 */
function defaultInstanceId(): string {
  const host = hostname().replace(DISPLAY_CONTROLS, '?');
  return redactUrl(`${host}:${process.pid}:${randomBytes(2).toString('hex')}`);
}
