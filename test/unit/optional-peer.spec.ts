// The error an entry point that needs an optional peer throws when loading it failed (the
// entries themselves, loaded from an installed copy without their peers, are in
// test/package/without-optional-peers.spec.ts).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CronLockConfigError } from '../../lib/cron-lock.errors.js';
import { optionalPeerError } from '../../lib/utils/optional-peer.js';

const ENTRY = 'nestjs-cron-lock/postgres';

/** An error as Node's ES module loader throws it for a package it cannot find. */
const esmNotFound = (what: string): Error =>
  Object.assign(
    new Error(`Cannot find package '${what}' imported from /srv/app/node_modules/x/index.js`),
    { code: 'ERR_MODULE_NOT_FOUND' },
  );

/** The error `require.resolve` throws for `specifier`, as Node builds it. */
function requireNotFound(specifier: string): unknown {
  try {
    createRequire(import.meta.url).resolve(specifier);
  } catch (error) {
    return error;
  }
  throw new Error(`${specifier} was found`);
}

describe('optionalPeerError', () => {
  it.each([
    ['import', 'pg', esmNotFound('pg')],
    ['require', 'pg-not-installed-here', requireNotFound('pg-not-installed-here')],
  ])('turns the peer not found by %s into the fix, without the path', (_how, peer, error) => {
    const thrown = optionalPeerError(error, ENTRY, peer);

    expect(thrown).toBeInstanceOf(CronLockConfigError);
    expect((thrown as Error).message).toBe(
      `${ENTRY} needs the optional peer dependency "${peer}", which is not installed. ` +
        `Fix: npm install ${peer}`,
    );
    expect((thrown as Error).cause).toBeUndefined();
  });

  it.each([
    ['a package the peer needs', esmNotFound('pg-pool')],
    ['a package whose name starts as the peer’s', requireNotFound('pg-not-installed-here')],
    ['a file inside the peer', requireNotFound('pg/no-such-file')],
    [
      'a file of the package itself',
      Object.assign(new Error("Cannot find module '/srv/app/node_modules/x/entry.js'"), {
        code: 'ERR_MODULE_NOT_FOUND',
      }),
    ],
    ['an error the peer throws as it loads', new SyntaxError("Unexpected token 'export'")],
    ['a value that is no error', undefined],
  ])('leaves %s as it is', (_what, error) => {
    expect(optionalPeerError(error, ENTRY, 'pg')).toBe(error);
  });
});
