import { MAX_PAUSE_REASON_LENGTH } from '../cron-lock.constants.js';
import { describeThrown } from './thrown.js';

/**
 * What comes before a URL's scheme in a run of scheme characters (`9.` of `9.redis://`): tried
 * only from the start of the run, and up to the run's first letter at a word boundary, where the
 * scheme starts. A pattern free to start at every word of the run (`\b[a-z][\w+.-]*`) scanned
 * the rest of the run again from each one: a job's error made of one long run of dotted or
 * hyphenated words took seconds to redact, and blocked the process meanwhile.
 */
const BEFORE_SCHEME = String.raw`(?<![\w+.-])((?:[\d_+.-]|(?<=\w)[a-z])*)\b`;

/**
 * `scheme://`, then the user info up to the LAST `@` before the end of the authority (a `/` or
 * whitespace): ioredis and pg both read a raw `@` in a password that way, so stopping at the
 * first one would print the rest of the password.
 */
const URL_USER_INFO = new RegExp(String.raw`${BEFORE_SCHEME}([a-z][\w+.-]*:\/\/)([^\s/]*)@`, 'gi');

/**
 * Removes credentials from anything that may reach a log line, an error message, the history or
 * a page: the user info of every URL in `text`, whatever its scheme (a job's error may quote any
 * connection string), and the value of every query parameter named like a secret
 * (`?password=***`). The user name stays when there is one (`redis://user:***@host`). The one
 * redaction of URLs in free text, so that every output hides the same thing.
 */
export function redactUrl(text: string): string {
  return redactSecretParams(
    text.replace(URL_USER_INFO, (_all, before: string, scheme: string, userInfo: string) => {
      const colon = userInfo.indexOf(':');
      return `${before}${scheme}${colon > 0 ? `${userInfo.slice(0, colon)}:` : ''}***@`;
    }),
  );
}

/**
 * An instance id read from the store or a reply (a lock's holder, a history entry's instance, the
 * instance that ran a trigger), with a URL's credentials hidden: what `CronLockService.inspect()`,
 * `history()` and `trigger()` answer and the CLI prints. An instance of an older version took a
 * connection string as its id, and a custom store may keep anything: its entries stay for up to
 * `historySize` runs, its holder while it holds the lock. `null` and `undefined` stay as they are.
 */
export function shownInstanceId(id: string): string;
export function shownInstanceId(id: string | undefined): string | undefined;
export function shownInstanceId(id: string | null): string | null;
export function shownInstanceId(id: string | null | undefined): string | null | undefined {
  return typeof id === 'string' ? redactUrl(id) : id;
}

/**
 * A pause note as it is kept, logged, emitted and echoed (by `CronLockService.pause()` and the
 * dashboard's pause alike): a quoted connection string keeps no password, so that every output
 * says the same. Cut to the limit the store's own pause() checks again, after the redaction, so
 * no secret is cut open. `note` has passed the note check (one line, within the limit).
 */
export function keptPauseNote(note: string): string {
  const kept = redactUrl(note);
  if (kept.length <= MAX_PAUSE_REASON_LENGTH) {
    return kept;
  }
  let end = MAX_PAUSE_REASON_LENGTH - 1;
  // Not between the two halves of a surrogate pair: PostgreSQL would keep a lone half as U+FFFD.
  if (/[\uD800-\uDBFF]/.test(kept.charAt(end - 1))) {
    end -= 1;
  }
  return `${kept.slice(0, end)}…`;
}

/** A URL in free text: its scheme, then everything up to a space or a quote. */
const URL_IN_TEXT = new RegExp(String.raw`${BEFORE_SCHEME}([a-z][\w+.-]*:\/\/[^\s"'<>\`]*)`, 'gi');

/**
 * The name of a query parameter that holds a secret: ioredis reads `password` and
 * `sentinelPassword` from its URL's query string, pg `password` and `sslpassword`, and a job's
 * error may quote any other URL (`token`, `secret`, `api_key`).
 */
const SECRET_PARAM_NAME = /pass|pwd|secret|token|key$/i;

/**
 * One `name=value` parameter of a query string (`value` up to the next `&` or `#`), or a name
 * with no `=` before the next `&` or `#`, taken whole and left as it is. A pattern that required
 * the `=` failed at such a name and started again at each `?` inside it, scanning to the same
 * `&` every time: a long query of `?` without `=` took seconds to redact.
 */
const QUERY_PARAM = /([?&])([^=&#]*)(?:=([^&#]*))?/g;

/**
 * Hides the value of every secret-named query parameter of the URLs in `text`: both clients take
 * a password there as readily as in the user info.
 */
function redactSecretParams(text: string): string {
  return text.replace(
    URL_IN_TEXT,
    (_all, before: string, url: string) => before + redactQuery(url),
  );
}

/** One URL with the values of its secret-named query parameters hidden. */
function redactQuery(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) {
    return url;
  }
  const params = url
    .slice(query)
    .replace(QUERY_PARAM, (param, sep: string, name: string, value: string | undefined) =>
      value !== undefined && value.length > 0 && SECRET_PARAM_NAME.test(name)
        ? `${sep}${name}=***`
        : param,
    );
  return url.slice(0, query) + params;
}

/**
 * The values of the secret-named query parameters of a parsed URL (decoded), so that error text
 * can be scrubbed of a password given as `?password=` too.
 */
export function secretParamsOf(url: URL): string[] {
  const secrets: string[] = [];
  url.searchParams.forEach((value, name) => {
    if (value.length > 0 && SECRET_PARAM_NAME.test(name)) {
      secrets.push(value);
    }
  });
  return secrets;
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
    return redactQuery(value);
  }
  const scheme = /^[A-Za-z][\w+.-]*:\/*/.exec(value)?.[0] ?? '';
  return redactQuery(`${scheme}***@${value.slice(at + 1)}`);
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
  return `${name}: ${cutKeepingFix(message)}`;
}

/** How much of a store error's message its description keeps: one log line's worth. */
const MESSAGE_KEPT = 300;

/** What a cut keeps of a message's start, before its fix: which store, table or call failed. */
const HEAD_KEPT = 100;

/**
 * `message` cut to {@link MESSAGE_KEPT} characters, keeping its `Fix: ` sentence (the store's
 * messages end with it): the middle goes, not the end, so long names (a schema and a table of 40
 * characters each, named in every message) or a long list cannot push the fix off the line the
 * operator reads. A fix too long to keep whole beside the message's first {@link HEAD_KEPT}
 * characters keeps its own start. A message without a fix keeps its start, as before. Cut after
 * the redaction, so no cut can leave part of a secret to read.
 */
function cutKeepingFix(message: string): string {
  if (message.length <= MESSAGE_KEPT) {
    return message;
  }
  const fix = message.indexOf('Fix: ');
  const tail = message.slice(Math.max(fix, 0));
  const headLength = Math.max(HEAD_KEPT, MESSAGE_KEPT - tail.length - 2);
  if (fix <= headLength) {
    // No fix, or one that starts within the head: the plain cut keeps as much of it as can be.
    return `${message.slice(0, MESSAGE_KEPT)}…`;
  }
  const room = MESSAGE_KEPT - headLength - 2;
  return `${message.slice(0, headLength)}… ${tail.length <= room ? tail : `${tail.slice(0, room - 1)}…`}`;
}
