/**
 * Seeded randomness for the fault scenarios, so a failing run can be replayed:
 *
 *   FAULT_SEED=<seed printed in the test name> npx vitest run test/faults/<file> -t '<test>'
 */

/** A small, fast, seedable PRNG (mulberry32). Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The run's base seed: `FAULT_SEED` when set (to replay a failure), otherwise random. */
export function baseSeed(): number {
  const fromEnv = process.env.FAULT_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const parsed = Number(fromEnv);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > 0xffffffff) {
      throw new Error(`FAULT_SEED must be an integer in [0, 2^32), got ${JSON.stringify(fromEnv)}`);
    }
    return parsed;
  }
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** FNV-1a: a stable 32-bit hash of a label, to give each scenario its own stream. */
function hash(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Seeded helpers of one scenario. */
export interface Random {
  /** The seed this stream started from. */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T;
  /** A copy of `items` in random order. */
  shuffle<T>(items: readonly T[]): T[];
  /** A fresh 32-bit seed (e.g. for a worker's own stream). */
  fork(): number;
}

/** The random stream of one scenario, derived from the run's base seed and the scenario label. */
export function scenarioRandom(seed: number, label: string): Random {
  const next = mulberry32((seed ^ hash(label)) >>> 0);
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    pick: (items) => items[int(0, items.length - 1)],
    shuffle: (items) => {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = int(0, i);
        [copy[i], copy[j]] = [copy[j], copy[i]];
      }
      return copy;
    },
    fork: () => Math.floor(next() * 0x1_0000_0000),
  };
}
