/**
 * Removes credentials from anything that may reach a log line or an error message.
 * ioredis errors and URLs can carry the password (`redis://user:pass@host`), and
 * `AUTH` failures echo parts of the command, so nothing from the client is logged raw.
 */
export function redactUrl(url: string): string {
  return url.replace(/^(\w+:\/\/)([^@/]*)@/, (_all, scheme: string, userInfo: string) => {
    const user = userInfo.includes(':') ? userInfo.slice(0, userInfo.indexOf(':')) : '';
    return `${scheme}${user ? `${user}:` : ''}***@`;
  });
}

/**
 * A rejected `redis` string for the error message. It is malformed by definition, so
 * redactUrl's `scheme://user:pass@` pattern may miss its credentials (`redis//u:pw@h`,
 * `u:pw@h`, a password containing `@`): everything between the scheme and the last `@` is hidden.
 */
export function redactLooseUrl(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) {
    return value;
  }
  const scheme = /^[A-Za-z][\w+.-]*:\/*/.exec(value)?.[0] ?? '';
  return `${scheme}***@${value.slice(at + 1)}`;
}

const URL_WITH_CREDENTIALS = /\b(rediss?|redis\+\w+):\/\/[^\s@/]*@/gi;

/**
 * A safe one-line description of a store error: its class name and a message with URLs
 * redacted and any known secret replaced. Never the raw error object (which carries the
 * client, its options and the command arguments).
 */
export function describeStoreError(error: unknown, secrets: readonly string[] = []): string {
  const name = error instanceof Error ? error.name : typeof error;
  let message = error instanceof Error ? error.message : String(error);
  message = message.replace(URL_WITH_CREDENTIALS, (match) => redactUrl(match));
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
