import {
  DEFAULT_KEY_PREFIX,
  DISPLAY_CONTROLS,
  KEY_PREFIX_PATTERN,
} from '../../cron-lock.constants.js';
import { CronLockConfigError } from '../../cron-lock.errors.js';
import { KEY_PREFIX_RULE } from '../../cron-lock.messages.js';
import { isKeyPrefix } from '../../utils/key-prefix.js';
import { describeValue } from '../../utils/describe-value.js';
import { describeThrown } from '../../utils/thrown.js';

/**
 * Every command a Redis user needs to run this module, as ACL rules spell them. Redis 7 checks
 * the commands a Lua script calls against the caller's ACL too, so the scripts' calls are here:
 * - sent by the store: `evalsha` (every operation), `eval` (after `NOSCRIPT`), `ping` (bootstrap
 *   and health checks);
 * - sent by ioredis on connect: `info` (its ready check; refused, ioredis prints a warning on
 *   every connection). `AUTH`/`HELLO` need no rule; `CLIENT SETINFO` (Redis 7.2+) and, from
 *   ioredis 6.1 on, `CLIENT MAINT_NOTIFICATIONS` may be refused, ioredis ignores that;
 * - sent by an ioredis `Cluster` client: `cluster|slots` (which master serves each slot) and
 *   `cluster|info` (its ready check). Refused, the client never becomes ready and every lock
 *   command fails. Both read the cluster's layout and state only; a standalone server accepts
 *   the rules too;
 * - called inside the acquire, renew, release, inspect, pause, resume, register and history
 *   scripts. `SCAN` (listJobs(), for the CLI's status) is not in the list: it reads every key
 *   name of the database, whatever the key pattern; grant it to the CLI's user only.
 *
 * A test checks this list against the `redis.call('…')` of every script, both ways, and runs the
 * whole module under a user with exactly these commands.
 *
 * @publicApi
 */
export const LOCK_USER_COMMANDS: readonly string[] = [
  'evalsha',
  'eval',
  'ping',
  'info',
  'cluster|slots',
  'cluster|info',
  'get',
  'set',
  'del',
  'pexpire',
  'pttl',
  'hget',
  'hmget',
  'hset',
  'hincrby',
  'hdel',
  'lpush',
  'ltrim',
  'lrange',
  'time',
  // CronLockService.trigger(): the request and replies on `<keyPrefix>:triggers`.
  'publish',
  'subscribe',
];

/**
 * The ACL rules of a least-privilege lock user for one `keyPrefix`: its keys only, its trigger
 * channel only, no command but {@link LOCK_USER_COMMANDS}. For a client with its own ioredis
 * `keyPrefix`, give the effective prefix: the client's followed by the module's
 * (`app:cron-lock`). Use it after `ACL SETUSER <user> on ><password>` (or in an ACL file:
 * `user <user> on ><password> <rules>`).
 *
 * @throws {@link CronLockConfigError} for a `keyPrefix` that is not 1 to 64 characters among
 *   `A-Z a-z 0-9 . _ : -`.
 * @example cronLockAclRule('cron-lock')
 *   // 'resetkeys ~cron-lock:* resetchannels &cron-lock:triggers -@all +evalsha +eval +ping …'
 * @publicApi
 */
export function cronLockAclRule(keyPrefix: string = DEFAULT_KEY_PREFIX): string {
  if (!isKeyPrefix(keyPrefix)) {
    throw new CronLockConfigError(
      `cronLockAclRule: keyPrefix ${describeValue(keyPrefix)} is not a valid keyPrefix. ` +
        `Fix: use ${KEY_PREFIX_RULE}`,
    );
  }
  const commands = LOCK_USER_COMMANDS.map((command) => `+${command}`).join(' ');
  return `resetkeys ~${keyPrefix}:* resetchannels &${keyPrefix}:triggers -@all ${commands}`;
}

const ACL_SECTION = "see docs/deploying.md, 'A least-privilege ACL user'";

/**
 * What an authentication or permission error means and how to fix it, or `undefined` for any
 * other error. Redis names the refused command (`NOPERM … run the 'evalsha' command`); up to 7.0
 * a refusal inside a script does not, so the hint says it came from the lock script. A refused
 * key is named by the pattern the user's rule must cover, built from `keyPrefix`: the prefix the
 * keys are sent with (a client's own ioredis `keyPrefix` followed by the store's).
 */
export function accessHint(error: unknown, keyPrefix?: string): string | undefined {
  const message = describeThrown(error).message;
  const command = /no permissions to run the '([^']+)' command/i.exec(message)?.[1];
  if (command !== undefined) {
    return `Redis user lacks permission for ${command.toUpperCase()}: ${ACL_SECTION}`;
  }
  if (/can't run this command or subcommand/i.test(message)) {
    return `Redis user lacks permission for a command the lock script runs: ${ACL_SECTION}`;
  }
  if (/NOPERM.*\bkeys?\b/i.test(message)) {
    return `Redis user may not access the lock keys (${keyPatternHint(keyPrefix)}): ${ACL_SECTION}`;
  }
  if (/\bWRONGPASS\b/.test(message)) {
    return 'Redis rejected the username or password (WRONGPASS): fix the credentials of the redis option';
  }
  if (/\bNOAUTH\b/.test(message)) {
    return 'Redis requires a password (NOAUTH): add it to the redis URL or the password option';
  }
  return undefined;
}

/**
 * What the key pattern must cover. Redis's message names no key, and `'<keyPrefix>:*'` read as
 * the store's prefix alone sent a user whose client has its own ioredis `keyPrefix` to the very
 * rule that failed. A client prefix outside the module's rule cannot go into `cronLockAclRule()`
 * and is shown cleaned and capped, as it lands in a log line.
 */
function keyPatternHint(keyPrefix: string | undefined): string {
  if (keyPrefix === undefined) {
    return "its key pattern must cover '<keyPrefix>:*'";
  }
  if (KEY_PREFIX_PATTERN.test(keyPrefix)) {
    return `its key pattern must cover '${keyPrefix}:*', as cronLockAclRule('${keyPrefix}') gives`;
  }
  const shown = keyPrefix.replace(DISPLAY_CONTROLS, '?');
  const capped = shown.length > 100 ? `${shown.slice(0, 100)}…` : shown;
  return `its key pattern must cover '${capped}:*'`;
}
