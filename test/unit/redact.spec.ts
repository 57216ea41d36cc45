import { describe, expect, it } from 'vitest';
import { describeStoreError, redactUrl } from '../../lib/utils/redact.js';

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
