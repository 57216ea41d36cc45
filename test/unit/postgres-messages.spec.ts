// The PostgreSQL store's errors that reach a run's store-error line and event: the module keeps
// 300 characters of a store error's message there, so with the default names (and this version's
// columns and functions) each one fits whole.
import { describe, expect, it } from 'vitest';
import {
  POSTGRES_ANSWER_UNREAD,
  POSTGRES_CREATE_DENIED,
  POSTGRES_FUNCTIONS_OUTDATED,
  POSTGRES_NO_ANSWER,
  POSTGRES_POOL_EXHAUSTED,
  POSTGRES_READ_ONLY,
  POSTGRES_TABLE_MISSING,
  POSTGRES_TABLE_OUTDATED,
  POSTGRES_TRIGGERS_UNHEARD,
} from '../../lib/stores/postgres/postgres.messages.js';
import { ADDED_COLUMNS, FUNCTION_SUFFIXES } from '../../lib/stores/postgres/schema.js';
import { describeStoreError } from '../../lib/utils/redact.js';
import { LockStoreError } from '../../lib/cron-lock.errors.js';

const table = 'public.cron_lock';

describe("the PostgreSQL store's run-time errors, with the default names", () => {
  it.each([
    ['no table', POSTGRES_TABLE_MISSING(table)],
    ['a table of an earlier version', POSTGRES_TABLE_OUTDATED(table, ADDED_COLUMNS)],
    [
      'functions missing or of an earlier version',
      POSTGRES_FUNCTIONS_OUTDATED(table, FUNCTION_SUFFIXES),
    ],
    [
      'no right to create the table',
      POSTGRES_CREATE_DENIED(table, `${table}_history`, 'permission denied (SQLSTATE 42501)'),
    ],
    ['a pool of 100 in use', POSTGRES_POOL_EXHAUSTED(10_000, 100)],
    ['a pool with room', POSTGRES_POOL_EXHAUSTED(10_000, null)],
    ['no answer', POSTGRES_NO_ANSWER(10_000)],
    ['a read-only server', `PostgreSQL refuses writes: ${POSTGRES_READ_ONLY}`],
    ['an answer of another form', POSTGRES_ANSWER_UNREAD('release')],
    ['triggers unheard', POSTGRES_TRIGGERS_UNHEARD(10_000)],
  ])('are described whole on a store-error line: %s', (_, message) => {
    expect(describeStoreError(new LockStoreError(message))).toBe(`LockStoreError: ${message}`);
  });
});
