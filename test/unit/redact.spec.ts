import { describe, expect, it } from 'vitest';
import { safeText } from '../../lib/dashboard/escape.js';
import { historyError } from '../../lib/runner/run-record.js';
import { describePostgresError } from '../../lib/stores/postgres/postgres-errors.js';
import { RedisLockStore } from '../../lib/stores/redis/redis-lock.store.js';
import { describeStoreError, redactLooseUrl, redactUrl } from '../../lib/utils/redact.js';

describe('redactUrl', () => {
  it('hides the password and keeps the user, host, port and database', () => {
    expect(redactUrl('redis://user:pass@host:6379/0')).toBe('redis://user:***@host:6379/0');
  });

  it('hides a password given without a user', () => {
    expect(redactUrl('rediss://:pass@h')).toBe('rediss://***@h');
  });

  it('leaves a URL without credentials unchanged', () => {
    expect(redactUrl('redis://host:6379/0')).toBe('redis://host:6379/0');
    expect(redactUrl('rediss://127.0.0.1')).toBe('rediss://127.0.0.1');
    expect(redactUrl('redis://host:6379/0?name=a@b')).toBe('redis://host:6379/0?name=a@b');
  });

  it('hides a password containing URL-encoded characters', () => {
    const redacted = redactUrl('redis://default:p%40ss%3Aw0rd@host:6379');
    expect(redacted).toBe('redis://default:***@host:6379');
    expect(redacted).not.toContain('w0rd');
  });
});

describe('describeStoreError', () => {
  it('names the error class and keeps a harmless message', () => {
    expect(describeStoreError(new TypeError('Connection is closed.'))).toBe(
      'TypeError: Connection is closed.',
    );
  });

  it('replaces every occurrence of a secret passed in', () => {
    const error = new Error('WRONGPASS s3cretPass rejected (AUTH default s3cretPass)');
    const text = describeStoreError(error, ['s3cretPass']);
    expect(text).not.toContain('s3cretPass');
    expect(text).toBe('Error: WRONGPASS *** rejected (AUTH default ***)');
  });

  it('ignores an empty secret instead of mangling the message', () => {
    expect(describeStoreError(new Error('timeout'), [''])).toBe('Error: timeout');
  });

  it('redacts Redis URLs with credentials inside the message', () => {
    const text = describeStoreError(
      new Error(
        'connect to redis://admin:hunter2@10.0.0.5:6379/1 and rediss://:topsecret@h failed',
      ),
    );
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('topsecret');
    expect(text).toContain('redis://admin:***@10.0.0.5:6379/1');
    expect(text).toContain('rediss://***@h');
  });

  it('shortens 32-hex owner tokens to a prefix', () => {
    const token = '0123456789abcdef0123456789abcdef';
    const text = describeStoreError(new Error(`EVALSHA failed with args ${token} 30000`));
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.slice(6));
    expect(text).toContain('012345…');
  });

  it('keeps the fix of a message too long for a line: the middle goes, not the end', () => {
    const fix = 'Fix: apply schema.sql again as its owner, or set createTable: true.';
    const names = `s_${'x'.repeat(38)}.t_${'y'.repeat(38)}`;
    const text = describeStoreError(
      new Error(`lock table ${names} lacks (${`${names}_acquire, `.repeat(3)}) ${fix}`),
    );
    expect(text).toMatch(new RegExp(`^Error: lock table ${names} lacks \\(.*… ${fix}$`));
    expect(text.length - 'Error: '.length).toBeLessThanOrEqual(300);
  });

  it('keeps the start of a fix too long to keep whole, and of a message without one', () => {
    const long = describeStoreError(new Error(`${'a'.repeat(200)} Fix: ${'b'.repeat(400)}`));
    expect(long).toBe(`Error: ${'a'.repeat(100)}… Fix: ${'b'.repeat(192)}…`);
    expect(describeStoreError(new Error('c'.repeat(400)))).toBe(`Error: ${'c'.repeat(300)}…`);
  });

  it('hides a secret before it cuts, wherever the cut falls', () => {
    const secret = 'hunter2-very-secret';
    const text = describeStoreError(
      new Error(`${'d'.repeat(95)}${secret}${'e'.repeat(300)} Fix: retry.`),
      [secret],
    );
    expect(text).not.toContain('hunter2');
    expect(text).toMatch(/\*\*\*e+… Fix: retry\.$/);
  });

  it('describes non-Error values by their type', () => {
    expect(describeStoreError('boom')).toBe('string: boom');
    expect(describeStoreError(undefined)).toBe('undefined: undefined');
  });

  it('caps very long messages', () => {
    const text = describeStoreError(new Error('x'.repeat(5_000)));
    expect(text.length).toBeLessThan(400);
    expect(text.endsWith('…')).toBe(true);
  });
});

// A raw `@` in a password is legal for ioredis and pg, which both take the last `@` before the
// host as the end of the user info: the redaction must hide up to that one, not the first.
describe('a password containing a raw @', () => {
  it('is hidden whole in a URL, with or without a user', () => {
    expect(redactUrl('redis://:hunter@2secret@127.0.0.1:6379')).toBe('redis://***@127.0.0.1:6379');
    expect(redactUrl('redis://admin:hunter@2secret@127.0.0.1:1/0')).toBe(
      'redis://admin:***@127.0.0.1:1/0',
    );
    expect(redactUrl('postgres://app:pa@ss@db.internal/app')).toBe(
      'postgres://app:***@db.internal/app',
    );
  });

  it('is hidden whole in a store error, Redis or PostgreSQL', () => {
    const redis = describeStoreError(new Error('connect to rediss://app:hunter@2secret@db failed'));
    expect(redis).toBe('Error: connect to rediss://app:***@db failed');
    const postgres = describePostgresError(
      new Error('connect to postgresql://app:hunter@2secret@db:5432/app failed'),
    );
    expect(postgres).toBe('Error: connect to postgresql://app:***@db:5432/app failed');
  });

  it("is hidden whole in a failed run's error as the history keeps it", () => {
    const error = new Error('connect to redis://app:hunter@2secret@db:6379 failed');
    expect(historyError(error)).toBe('Error: connect to redis://app:***@db:6379 failed');
  });

  it('is hidden whole in text the dashboard shows', () => {
    expect(safeText('redis://app:hunter@2secret@db:6379')).toBe('redis://app:***@db:6379');
    expect(safeText('failed: amqp://:a@b@c@mq:5672/vhost and more')).toBe(
      'failed: amqp://***@mq:5672/vhost and more',
    );
  });
});

// ioredis (`?password=`, `?sentinelPassword=`) and pg (`?password=`, `?sslpassword=`) also read
// a password from the query string of their URL: it is hidden wherever a URL is printed.
describe('a password given as a query parameter of a URL', () => {
  it('is hidden, with the other parameters kept', () => {
    expect(redactUrl('redis://127.0.0.1:6379?password=hunter2')).toBe(
      'redis://127.0.0.1:6379?password=***',
    );
    expect(redactUrl('redis://10.0.0.1:26379?name=main&sentinelPassword=s3nt&db=2')).toBe(
      'redis://10.0.0.1:26379?name=main&sentinelPassword=***&db=2',
    );
    expect(
      redactUrl('postgres://db/app?sslmode=require&password=hunter2&application_name=jobs'),
    ).toBe('postgres://db/app?sslmode=require&password=***&application_name=jobs');
    expect(redactUrl('postgresql://db/app?sslpassword=k3y-pass')).toBe(
      'postgresql://db/app?sslpassword=***',
    );
  });

  it('is hidden in a store error, in a history entry and in text the dashboard shows', () => {
    const error = new Error('connect to redis://cache:6379/0?password=hunter2 failed');
    expect(describeStoreError(error)).toBe(
      'Error: connect to redis://cache:6379/0?password=*** failed',
    );
    expect(historyError(error)).toBe('Error: connect to redis://cache:6379/0?password=*** failed');
    expect(safeText('postgres://db/app?password=hunter2')).toBe('postgres://db/app?password=***');
  });

  it('is hidden in the bootstrap error about a URL that names no server', () => {
    expect(redactLooseUrl('redis://?password=hunter2')).toBe('redis://?password=***');
    expect(() => new RedisLockStore('redis:///0?password=hunter2', { logger: false })).toThrow(
      /"redis:\/\/\/0\?password=\*\*\*" names no server/,
    );
  });

  it('leaves a URL whose parameters hold no password unchanged', () => {
    expect(redactUrl('redis://host:6379/0?family=6&name=passes')).toBe(
      'redis://host:6379/0?family=6&name=passes',
    );
  });
});

// A job's error is redacted for its log line, its stack and its history entry before anything is
// cut. A long message made of one run of dotted or hyphenated words (a key path, a slug list)
// made each redaction pattern start again at every word of the run: 50,000 characters blocked
// the event loop for seconds, three times per failed run, long enough for its lock to be lost.
describe('a very long error message', () => {
  const runs = [
    ['dotted words', 'a.'.repeat(30_000)],
    ['hyphenated words', 'x-'.repeat(30_000)],
  ] as const;

  it.each(runs)(
    'of %s is redacted in time linear in its length, its URLs still hidden',
    (_label, run) => {
      const text = `${run} then redis://ops:secret@cache:6379 and ${run}`;
      const started = performance.now();
      const redacted = redactUrl(text);
      const entry = historyError(new Error(text));
      // Well above the few milliseconds this takes; the quadratic scan took over ten seconds.
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(redacted).toContain('redis://ops:***@cache:6379');
      expect(redacted).not.toContain('secret');
      expect(redacted).toHaveLength(text.length - 3);
      expect(entry.length).toBeLessThanOrEqual(500);
    },
  );

  it('still hides the user info of a URL whose scheme follows other word characters', () => {
    expect(redactUrl('9.redis://u:pw@h')).toBe('9.redis://u:***@h');
    expect(redactUrl('x-y+rediss://u:pw@h')).toBe('x-y+rediss://u:***@h');
    expect(redactUrl('(postgres://app:pw@db/x?password=p2 ok')).toBe(
      '(postgres://app:***@db/x?password=*** ok',
    );
    expect(redactUrl('123://u:pw@h')).toBe('123://u:pw@h');
  });

  // The query of a URL is read parameter by parameter. A long query with many `?` and no `=`
  // before the next `&` (a path pasted after the `?`) made the parameter pattern start again at
  // every `?`, each time scanning to that `&`: seconds for 80,000 characters.
  it('of a URL whose query holds a long run of question marks is redacted in time linear in its length', () => {
    const url = `https://api:pw@host/find?${'a?'.repeat(40_000)}&password=p2&page=2`;
    const text = `request failed: ${url} (status 500)`;
    const started = performance.now();
    const redacted = redactUrl(text);
    const entry = historyError(new Error(text));
    // Well above the few milliseconds this takes; the quadratic scan took several seconds.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(redacted).toBe(
      `request failed: https://api:***@host/find?${'a?'.repeat(40_000)}&password=***&page=2 (status 500)`,
    );
    expect(entry.length).toBeLessThanOrEqual(500);
  });

  it('hides the same query parameters as before around question marks without a value', () => {
    expect(redactUrl('http://h/?a?b&token=t1')).toBe('http://h/?a?b&token=***');
    expect(redactUrl('http://h/?x?password=p1&k=1')).toBe('http://h/?x?password=***&k=1');
    expect(redactUrl('http://h/??&&=#?secret=s1')).toBe('http://h/??&&=#?secret=***');
    expect(redactUrl('http://h/?pass?x=1')).toBe('http://h/?pass?x=***');
  });
});
