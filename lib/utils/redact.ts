import { describeThrown } from './thrown.js';

/**
 * `scheme://`, then the user info up to the LAST `@` before the end of the authority (a `/` or
 * whitespace): ioredis and pg both read a raw `@` in a password that way, so stopping at the
 * first one would print the rest of the password.
 */
const URL_USER_INFO = /\b([a-z][\w+.-]*:\/\/)([^\s/]*)@/gi;

/**
 * Removes credentials from anything that may reach a log line, an error message, the history or
 * a page: the user info of every URL in `text`, whatever its scheme (a job's error may quote any
 * connection string). The user name stays when there is one (`redis://user:***@host`). The one
 * redaction of URLs in free text, so that every output hides the same thing.
 */
export function redactUrl(text: string): string {
  return text.replace(URL_USER_INFO, (_all, scheme: string, userInfo: string) => {
    const colon = userInfo.indexOf(':');
    return `${scheme}${colon > 0 ? `${userInfo.slice(0, colon)}:` : ''}***@`;
  });
}

/** 32 hex characters: an owner token, kept to a prefix as in every other message. */
const OWNER_TOKEN = /\b([0-9a-f]{6})[0-9a-f]{26}\b/g;

/**
 * Hides what a job's or a listener's error text may quote: the user info of every URL, and all
 * but a 6-character prefix of an owner token (32 hex characters). The history, the failed-run and
 * listener log lines use it, so a failure is reported with the same text wherever it shows.
 */
export function redactThrownText(text: string): string {
  return redactUrl(text).replace(OWNER_TOKEN, '$1…');
}

/**
 * A rejected `redis` string for the error message. It is malformed by definition, so
 * redactUrl's `scheme://user:pass@` pattern may miss its credentials (`redis//u:pw@h`,
 * `u:pw@h`, a `/` in the password): everything between the scheme and the last `@` is hidden.
 */
export function redactLooseUrl(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) {
    return value;
  }
  const scheme = /^[A-Za-z][\w+.-]*:\/*/.exec(value)?.[0] ?? '';
  return `${scheme}***@${value.slice(at + 1)}`;
}

/**
 * A safe one-line description of a store error: its class name and a message with URLs
 * redacted and any known secret replaced. Never the raw error object (which carries the
 * client, its options and the command arguments).
 */
export function describeStoreError(error: unknown, secrets: readonly string[] = []): string {
  const thrown = describeThrown(error);
  const name = thrown.name;
  let message = redactUrl(thrown.message);
  for (const secret of secrets) {
    if (secret.length > 0) {
      message = message.split(secret).join('***');
    }
  }
  // Command arguments can contain owner tokens (32 hex chars): keep only a prefix.
  message = message.replace(/\b([0-9a-f]{6})[0-9a-f]{26}\b/g, '$1…');
  if (message.length > 300) {
    message = `${message.slice(0, 300)}…`;
  }
  return `${name}: ${message}`;
}
