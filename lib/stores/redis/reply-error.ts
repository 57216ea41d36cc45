import { ReplyError } from 'ioredis';

/**
 * Whether `error` is a Redis server's error reply, as ioredis rejects a command with it: the
 * server read the command and answered. Told by shape as well as by `instanceof`: an app whose
 * ioredis is another install than the one this package resolves may bring its own `redis-errors`
 * too, and its replies are then a `ReplyError` of another class. Both releases in the peer range
 * make it the same way: `name` is `ReplyError`, and a class of that name, derived from one named
 * `RedisError`, is in its prototype chain (ioredis 6 derives its own reply classes from it). An
 * error of the client (a timeout, a closed connection, an abort) has neither.
 */
export function isReplyError(error: unknown): error is Error {
  if (error instanceof (ReplyError as new () => Error)) {
    return true;
  }
  if (!(error instanceof Error) || error.name !== 'ReplyError') {
    return false;
  }
  for (let proto: unknown = Object.getPrototypeOf(error); proto !== null;) {
    const parent: unknown = Object.getPrototypeOf(proto);
    if (isNamed(proto, 'ReplyError') && isNamed(parent, 'RedisError')) {
      return true;
    }
    proto = parent;
  }
  return false;
}

function isNamed(proto: unknown, name: string): boolean {
  const constructor = (proto as { constructor?: unknown } | null)?.constructor;
  return typeof constructor === 'function' && constructor.name === name;
}
