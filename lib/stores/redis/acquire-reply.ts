import { MAX_SCHEDULED_AT_AHEAD_MS } from '../../cron-lock.constants.js';
import { ScheduledAtRefusedError } from '../../cron-lock.errors.js';
import { SCHEDULED_AT_REFUSED } from '../../cron-lock.messages.js';
import type { AcquireResult } from '../lock-store.interface.js';
import { numberOrNull } from './inspect.js';

const DIGIT_0 = 48;
const DIGIT_1 = 49;
const SPACE = 32;

/**
 * Reads the acquire script's reply (see ACQUIRE_SCRIPT). `onQueued` hears the queued occurrence a
 * `merged` reply hands over to claim.
 */
export function readAcquireReply(
  reply: unknown,
  onQueued?: (scheduledAt: number, retryIn?: number) => void,
): AcquireResult {
  const text = String(reply);
  if (text.charCodeAt(0) === DIGIT_1 && text.charCodeAt(1) === SPACE) {
    const won = readWon(text);
    if (won !== undefined) {
      return won;
    }
  }
  // The fifth field is the lock's pttl with `queued`, the queued occurrence with `merged` (to
  // claim now, or after the sixth field, the lock's pttl, when held), 1 when the job is paused.
  const fields = text.split(' ');
  const [won, detail, okAt, tick, fifth] = fields as [string, string, string, string?, string?];
  const lastSuccessAt = numberOrNull(okAt);
  if (won === '1') {
    const previousTick = numberOrNull(tick);
    return previousTick === null
      ? { acquired: true, fencingToken: Number(detail), lastSuccessAt }
      : { acquired: true, fencingToken: Number(detail), lastSuccessAt, previousTick };
  }
  if (detail === 'queued') {
    return {
      acquired: false,
      reason: 'queued',
      retryIn: Math.max(0, Number(fifth)),
      lastSuccessAt,
    };
  }
  if (detail === 'merged-paused') {
    return { acquired: false, reason: 'merged', lastSuccessAt, paused: true };
  }
  if (detail === 'merged') {
    if (onQueued && fifth !== undefined && fifth !== '') {
      const left = fields[5];
      if (left === undefined) {
        onQueued(Number(fifth));
      } else {
        onQueued(Number(fifth), Math.max(0, Number(left)));
      }
    }
    return { acquired: false, reason: 'merged', lastSuccessAt };
  }
  if (detail === 'invalid' || detail === 'ahead') {
    // Thrown here, the command's promise rejects with it: the store's `fail` passes a
    // LockStoreError through unchanged.
    throw new ScheduledAtRefusedError(
      detail,
      // The refused tick is the rest of the text, as the server read it.
      SCHEDULED_AT_REFUSED(fields.slice(3).join(' '), detail, MAX_SCHEDULED_AT_AHEAD_MS),
    );
  }
  const reason = detail === 'tick-done' || detail === 'paused' ? detail : 'held';
  return Number(fifth) === 1
    ? { acquired: false, reason, lastSuccessAt, paused: true }
    : { acquired: false, reason, lastSuccessAt };
}

/**
 * A won acquisition, `1 fence ok_at previous-tick`, read in place: it sits between the reply and
 * the job's first line, and splitting the text and converting each field with `Number()` was the
 * costliest step of reading it. The same values as the general path; `undefined` sends a text
 * this does not expect there.
 */
function readWon(text: string): AcquireResult | undefined {
  const fenceEnd = text.indexOf(' ', 2);
  const okEnd = fenceEnd < 0 ? -1 : text.indexOf(' ', fenceEnd + 1);
  if (okEnd < 0 || text.indexOf(' ', okEnd + 1) >= 0) {
    return undefined;
  }
  let fencingToken = digitsIn(text, 2, fenceEnd);
  if (fencingToken < 0) {
    fencingToken = Number(text.slice(2, fenceEnd));
  }
  const lastSuccessAt = fieldIn(text, fenceEnd + 1, okEnd);
  const previousTick = fieldIn(text, okEnd + 1, text.length);
  return previousTick === null
    ? { acquired: true, fencingToken, lastSuccessAt }
    : { acquired: true, fencingToken, lastSuccessAt, previousTick };
}

/** {@link numberOrNull} of `text` from `start` to `end`. */
function fieldIn(text: string, start: number, end: number): number | null {
  const value = digitsIn(text, start, end);
  return value >= 0 ? value : numberOrNull(text.slice(start, end));
}

/**
 * The whole number `text` holds from `start` to `end`, as `Number()` reads it; -1 when that is
 * not only digits, or more than a double holds exactly (the caller then asks `Number()` itself).
 */
function digitsIn(text: string, start: number, end: number): number {
  if (start >= end) {
    return -1;
  }
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) {
      return -1;
    }
    value = value * 10 + digit;
  }
  return value <= Number.MAX_SAFE_INTEGER ? value : -1;
}
