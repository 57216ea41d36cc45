/* How a message quotes what it was given: a rejected value, an option name, a list of choices. */
import { redactUrl } from './redact.js';

/** An option name as typed, shortened and quoted only when it is not a plain identifier. */
export function describeKey(key: string): string {
  return /^[A-Za-z_$][\w$]{0,40}$/.test(key) ? key : describeValue(key);
}

/**
 * A rejected value as a message quotes it. A string may be a connection string given to the
 * wrong option (two environment variables swapped), so its URLs lose their passwords before it
 * is cut to `max` characters: a cut first could leave a password without the `@` that marks it.
 * An object is only named: it may be a client with its options. A function is named too, and a
 * `Date` is quoted as an ISO date.
 */
export function describeValue(value: unknown, max = 60): string {
  if (typeof value === 'string') {
    const safe = redactUrl(value);
    return JSON.stringify(safe.length > max ? `${safe.slice(0, max)}…` : safe);
  }
  if (typeof value === 'function') {
    // String() would quote the whole source of the function.
    return value.name ? `a function (${value.name.slice(0, max)})` : 'a function';
  }
  if (value === null || typeof value !== 'object') {
    return String(value);
  }
  if (value instanceof Date) {
    // A date is what the caller chose, and never a client or a secret: quote it.
    return describeDate(value);
  }
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** `'a', 'b' or 'c'` */
export function oneOf(allowed: readonly string[]): string {
  const quoted = allowed.map((mode) => `'${mode}'`);
  return quoted.length > 1
    ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`
    : quoted.join('');
}

function describeDate(date: Date): string {
  try {
    return Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString();
  } catch {
    // An object that only has Date's prototype: getTime() throws for it.
    return 'an object';
  }
}
