/** Below 2^31 an integer is a small integer to V8, whose text it makes on a fast path already. */
const SMALL_LIMIT = 2 ** 31;
const LOW_DIGITS = 1e8;

/**
 * `String(value)`, the same text for every number, made cheaply for the integers a run writes on
 * every acquisition and release (ms timestamps, fencing tokens). V8 turns an integer of 2^31 or
 * more into text through its general shortest-digits algorithm, several times the cost of two
 * small integers; such an integer is written here as its digits above and below 10^8, the lower
 * part padded to eight digits.
 */
export function numberText(value: number): string {
  if (!(value >= SMALL_LIMIT && value <= Number.MAX_SAFE_INTEGER) || value % 1 !== 0) {
    return String(value);
  }
  let high = Math.floor(value / LOW_DIGITS);
  let low = value - high * LOW_DIGITS;
  // A guard that costs one comparison: below 2^53 the quotient stays at least 10^-8 short of the
  // next whole number, more than the half unit it could be rounded by, so it never rounds up to it.
  if (low < 0) {
    high -= 1;
    low += LOW_DIGITS;
  }
  // Nine digits, the first one dropped: the lower part with its leading zeros.
  return String(high) + String(low + LOW_DIGITS).slice(1);
}
