import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { MemoryLockStore, RedisLockStore, type LockStore } from 'nestjs-cron-lock';
import { PostgresLockStore } from 'nestjs-cron-lock/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTable, newPool, uniqueTable } from '../support/postgres.js';
import { testRedisUrl, uniquePrefix } from '../support/redis.js';
import { newToken } from './lock-store.contract.js';

/*
 * Differential test of the three built-in stores: the same seeded random sequences of store
 * operations go to a MemoryLockStore, a RedisLockStore and a PostgresLockStore side by side, and
 * every answer is compared. Only what legitimately differs is normalised: fencing token values
 * (compared by their order: the n-th token handed out for the job, which must increase), a lock's
 * time left (held or not), a queued answer's retryIn (within the ttl), the times a store takes from
 * its own clock (history entries of skipped occurrences, a finish time reported ahead of it), and
 * what the contract leaves open (`previousTick` absent or null, `paused` absent or false). Not
 * compared: how long a trigger claim outlives its ttl (PostgreSQL keeps it until swept).
 * A divergence fails with the seed and a sequence shrunk to the steps that still diverge.
 *
 * The seeds are fixed. To explore others: DIFF_SEED (first seed), DIFF_COUNT (how many) and
 * DIFF_SHOW (failures shown) in the environment.
 */

const MINUTE = 60_000;
const LONG_TTL = MINUTE;
/** A ttl (and a pause) the sequence waits out right after the step that sets it. */
const SHORT_TTL = 150;
/** The fencing token a release reports for a run whose token no store handed out. */
const STRANGER_FENCE = 2 ** 40;
const JOBS = ['a', 'b'] as const;
const INSTANCES = ['i1', 'i2', 'i3'] as const;

type Job = (typeof JOBS)[number];

/** One step of a sequence. Times are relative: occurrence k is `base + k` minutes. */
type Op =
  | {
      op: 'acquire';
      job: Job;
      inst: number;
      short: boolean;
      at: number | 'none' | 'ahead' | 'fraction';
      overlap?: 'skip' | 'queue' | 'replace';
      force?: boolean;
      historySize?: number;
    }
  | { op: 'renew'; job: Job; tok: number; short: boolean }
  | {
      op: 'release';
      job: Job;
      tok: number;
      keepFor?: boolean;
      outcome?: 'completed' | 'failed';
      run?: { at: number | null; outcome: 'completed' | 'failed' | 'lost' | 'aborted' };
      ago: number;
      /** An odd report: a finish time ahead of the store's clock or not a whole number, an odd duration. */
      odd?: 'future' | 'not a number' | 'fraction' | 'negative duration';
      missed?: number[];
      historySize?: number;
    }
  | { op: 'pause'; job: Job; reason: string | null; until: 'none' | 'past' | 'future' | 'soon' }
  | { op: 'resume'; job: Job }
  | { op: 'inspect'; job: Job }
  | { op: 'history'; job: Job; limit: number }
  | { op: 'listJobs' }
  | { op: 'register'; job: Job }
  | { op: 'claim'; job: Job; id: number; inst: number }
  | { op: 'plain'; tok: 'new' | number }
  | { op: 'plainRelease'; tok: number };

/** mulberry32: a small seeded generator, so a seed replays its sequence exactly. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sequence(seed: number, length: number): Op[] {
  const random = generator(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const maybe = <T>(value: T, p = 0.5): T | undefined => (random() < p ? value : undefined);
  const ops: Op[] = [];
  let acquisitions = 0;
  let plainTokens = 0;
  // Half the sequences work one job over few occurrences: overlap and pauses meet more often.
  const dense = random() < 0.5;
  const tick = (): number => int(dense ? 4 : 8);
  const sizes = [undefined, 0, 2, 5, 5, 5] as const;
  for (let i = 0; i < length; i++) {
    const job = dense ? 'a' : pick(JOBS);
    const roll = random();
    const tok = int(acquisitions + 1); // acquisitions: a token never used is a stranger's
    if (roll < 0.34) {
      acquisitions += 1;
      const kind = random();
      ops.push({
        op: 'acquire',
        job,
        inst: int(INSTANCES.length),
        short: random() < 0.12,
        at: kind < 0.15 ? 'none' : kind < 0.17 ? 'ahead' : kind < 0.19 ? 'fraction' : tick(),
        overlap: maybe(pick(['skip', 'queue', 'replace'] as const), 0.6),
        force: maybe(true, 0.15),
        historySize: pick(sizes),
      });
    } else if (roll < 0.44) {
      ops.push({ op: 'renew', job, tok, short: random() < 0.1 });
    } else if (roll < 0.6) {
      const outcome = maybe(pick(['completed', 'failed'] as const), 0.8);
      ops.push({
        op: 'release',
        job,
        tok,
        keepFor: maybe(true, 0.1),
        outcome,
        run:
          outcome && random() < 0.8
            ? {
                at: random() < 0.2 ? null : tick(),
                outcome: pick(['completed', 'failed', 'lost', 'aborted'] as const),
              }
            : undefined,
        ago: int(5_000),
        odd: maybe(pick(['future', 'not a number', 'fraction', 'negative duration'] as const), 0.1),
        missed: maybe(
          [tick(), tick()].sort((x, y) => x - y),
          0.2,
        ),
        historySize: pick(sizes),
      });
    } else if (roll < 0.66) {
      ops.push({
        op: 'pause',
        job,
        reason: maybe('maintenance') ?? null,
        until: pick(['none', 'none', 'past', 'future', 'soon'] as const),
      });
    } else if (roll < 0.71) {
      ops.push({ op: 'resume', job });
    } else if (roll < 0.8) {
      ops.push({ op: 'inspect', job });
    } else if (roll < 0.86) {
      ops.push({ op: 'history', job, limit: pick([0, 1, 3, 10]) });
    } else if (roll < 0.88) {
      ops.push({ op: 'listJobs' });
    } else if (roll < 0.9) {
      ops.push({ op: 'register', job });
    } else if (roll < 0.94) {
      // Long claims only: a claim holds for its ttl at least, and PostgreSQL keeps it longer.
      ops.push({ op: 'claim', job, id: int(3), inst: int(INSTANCES.length) });
    } else if (roll < 0.97) {
      ops.push({ op: 'plain', tok: plainTokens > 0 && random() < 0.2 ? int(plainTokens) : 'new' });
      plainTokens += 1;
    } else {
      ops.push({ op: 'plainRelease', tok: int(plainTokens + 1) });
    }
  }
  return ops;
}

interface StoreUnderTest {
  label: string;
  store: LockStore;
}

/** What one store has handed out during a replay: fencing tokens per job, in order. */
interface StoreLedger {
  fences: Map<string, number[]>;
  /** Fencing token of each job's owner token (`name\ntoken`), as this store handed it out. */
  fenceOf: Map<string, number>;
}

/** The shared state of one replay: names, owner tokens, the time origin. */
interface Replay {
  prefix: string;
  base: number;
  tokens: string[];
  plainTokens: string[];
  claimIds: string[];
  /** When finish times ahead of the clock were reported: each store records its own time then. */
  clamped: Array<[number, number]>;
}

/** A time a store may have taken from its own clock (see Replay.clamped), as 'clamped'. */
function timeOf(replay: Replay, time: number | null | undefined): unknown {
  if (time === null || time === undefined) return null;
  return replay.clamped.some(([from, to]) => time >= from && time <= to) ? 'clamped' : time;
}

const nameOf = (replay: Replay, job: Job | 'p'): string => `${replay.prefix}-${job}`;

function tickAt(replay: Replay, k: number): number {
  return replay.base + k * MINUTE;
}

function fenceRank(ledger: StoreLedger, name: string, fence: number | null): unknown {
  if (fence === null) return null;
  if (fence === STRANGER_FENCE) return 'stranger';
  const index = (ledger.fences.get(name) ?? []).indexOf(fence);
  return index === -1 ? `unknown fence` : `F${index}`;
}

function errorShape(error: unknown): unknown {
  if (!(error instanceof Error)) return { thrown: String(error) };
  const reason = (error as { reason?: unknown }).reason;
  return { error: error.name, ...(reason === undefined ? {} : { reason }) };
}

/** Runs `op` on one store and returns its answer, normalised. */
async function apply(
  op: Op,
  target: StoreUnderTest,
  ledger: StoreLedger,
  replay: Replay,
  now: number,
): Promise<unknown> {
  const { store } = target;
  try {
    switch (op.op) {
      case 'acquire': {
        const name = nameOf(replay, op.job);
        const token = replay.tokens[replay.tokens.length - 1]!;
        const calls: unknown[] = [];
        const scheduledAt =
          op.at === 'none'
            ? undefined
            : op.at === 'ahead'
              ? now + 20 * MINUTE
              : op.at === 'fraction'
                ? replay.base + 0.5
                : tickAt(replay, op.at);
        const result = await store.acquire({
          name,
          token,
          ttl: op.short ? SHORT_TTL : LONG_TTL,
          instanceId: INSTANCES[op.inst]!,
          ...(scheduledAt === undefined ? {} : { scheduledAt }),
          ...(op.overlap ? { overlap: op.overlap } : {}),
          ...(op.force ? { force: true } : {}),
          ...(op.historySize === undefined ? {} : { historySize: op.historySize }),
          onQueued: (at, retryIn) =>
            calls.push({
              at: (at - replay.base) / MINUTE,
              retryIn: retryIn === undefined ? 'none' : 'set',
            }),
        });
        if (result.acquired) {
          const fences = ledger.fences.get(name) ?? [];
          fences.push(result.fencingToken);
          ledger.fences.set(name, fences);
          ledger.fenceOf.set(`${name}\n${token}`, result.fencingToken);
          return {
            acquired: true,
            fencingToken: fenceRank(ledger, name, result.fencingToken),
            previousTick:
              result.previousTick === undefined || result.previousTick === null
                ? null
                : (result.previousTick - replay.base) / MINUTE,
            lastSuccessAt: timeOf(replay, result.lastSuccessAt),
            paused: result.paused === true,
            onQueued: calls,
          };
        }
        return {
          acquired: false,
          reason: result.reason,
          retryIn:
            result.retryIn === undefined
              ? 'none'
              : result.retryIn >= 0 && result.retryIn <= LONG_TTL
                ? 'in range'
                : result.retryIn,
          lastSuccessAt: timeOf(replay, result.lastSuccessAt),
          paused: result.paused === true,
          onQueued: calls,
        };
      }
      case 'renew': {
        const token = replay.tokens[op.tok] ?? 'stranger';
        const result = await store.renew({
          name: nameOf(replay, op.job),
          token,
          ttl: op.short ? SHORT_TTL : LONG_TTL,
        });
        return result.renewed ? { renewed: true, replaced: result.replaced === true } : result;
      }
      case 'release': {
        const name = nameOf(replay, op.job);
        const token = replay.tokens[op.tok] ?? 'stranger';
        const finishedAt =
          op.odd === 'future'
            ? now + 10 * MINUTE
            : op.odd === 'not a number'
              ? Number.NaN
              : op.odd === 'fraction'
                ? now - op.ago - 0.5 // rounds to now - ago: never ahead of a store's clock
                : now - op.ago;
        const calls: unknown[] = [];
        const released = await store.release({
          name,
          token,
          ...(op.keepFor ? { keepFor: SHORT_TTL } : {}),
          ...(op.outcome
            ? {
                outcome: {
                  status: op.outcome,
                  durationMs:
                    op.odd === 'negative duration'
                      ? -5
                      : op.odd === 'fraction'
                        ? 40.4
                        : 40 + op.ago,
                  finishedAt,
                  // No run record with a finish time that is not a number: the memory store's
                  // history keeps NaN where the others' JSON keeps null (left as it is).
                  ...(op.run && op.odd !== 'not a number'
                    ? {
                        run: {
                          scheduledAt: op.run.at === null ? null : tickAt(replay, op.run.at),
                          startedAt: finishedAt - 40 - op.ago,
                          fencingToken: ledger.fenceOf.get(`${name}\n${token}`) ?? STRANGER_FENCE,
                          instanceId: 'i1',
                          trigger: 'schedule',
                          outcome: op.run.outcome,
                          error: op.run.outcome === 'failed' ? 'boom' : null,
                        },
                      }
                    : {}),
                },
              }
            : {}),
          ...(op.missed ? { missed: op.missed.map((k) => tickAt(replay, k)) } : {}),
          ...(op.historySize === undefined ? {} : { historySize: op.historySize }),
          onQueued: (at) => calls.push((at - replay.base) / MINUTE),
        });
        return { released, onQueued: calls };
      }
      case 'pause':
        await store.pause!(nameOf(replay, op.job), {
          reason: op.reason,
          until:
            op.until === 'none'
              ? null
              : op.until === 'past'
                ? now - 1_000
                : op.until === 'soon'
                  ? now + SHORT_TTL
                  : replay.base + 90 * MINUTE,
        });
        return 'paused';
      case 'resume':
        return await store.resume!(nameOf(replay, op.job));
      case 'register':
        await store.registerJob!(nameOf(replay, op.job), { cron: '0 0 1 1 *', timeZone: 'UTC' });
        return 'registered';
      case 'inspect': {
        const name = nameOf(replay, op.job);
        const state = await store.inspect(name);
        return {
          ...state,
          ttlLeft: state.ttlLeft === null ? null : 'held',
          lastTick: state.lastTick === null ? null : (state.lastTick - replay.base) / MINUTE,
          fencingToken: fenceRank(ledger, name, state.fencingToken),
          lastSuccessAt: timeOf(replay, state.lastSuccessAt),
          lastFinishedAt: timeOf(replay, state.lastFinishedAt),
        };
      }
      case 'history': {
        const name = nameOf(replay, op.job);
        const entries = await store.history!(name, op.limit);
        return entries.map((entry) => ({
          ...entry,
          scheduledAt:
            entry.scheduledAt === null ? null : (entry.scheduledAt - replay.base) / MINUTE,
          // An occurrence's entry is stamped with the store's clock when recorded.
          finishedAt:
            entry.kind === 'run'
              ? timeOf(replay, entry.finishedAt)
              : entry.finishedAt === null
                ? null
                : 'T',
          fencingToken:
            entry.kind === 'run' ? fenceRank(ledger, name, entry.fencingToken) : entry.fencingToken,
        }));
      }
      case 'listJobs': {
        const names = await store.listJobs!();
        return names.filter((name) => name.startsWith(`${replay.prefix}-`) && !name.endsWith('-p'));
      }
      case 'claim':
        return await store.triggers!.claim(
          nameOf(replay, op.job),
          replay.claimIds[op.id]!,
          INSTANCES[op.inst]!,
          LONG_TTL,
        );
      case 'plain': {
        const token =
          op.tok === 'new'
            ? replay.plainTokens[replay.plainTokens.length - 1]!
            : replay.plainTokens[op.tok]!;
        const result = await store.acquire({
          name: nameOf(replay, 'p'),
          token,
          ttl: LONG_TTL,
          instanceId: 'i1',
          plain: true,
        });
        if (!result.acquired) return { acquired: false, reason: result.reason };
        const fences = ledger.fences.get('plain') ?? [];
        fences.push(result.fencingToken);
        ledger.fences.set('plain', fences);
        return { acquired: true, fencingToken: fenceRank(ledger, 'plain', result.fencingToken) };
      }
      case 'plainRelease':
        return await store.release({
          name: nameOf(replay, 'p'),
          token: replay.plainTokens[op.tok] ?? 'stranger',
          plain: true,
        });
    }
  } catch (error) {
    return errorShape(error);
  }
}

/** Whether the step left a lock (or a kept lock) that a short ttl ends: the sequence waits it out. */
function leavesShortLock(op: Op): boolean {
  return (
    (op.op === 'acquire' && op.short) ||
    (op.op === 'renew' && op.short) ||
    (op.op === 'release' && op.keepFor === true)
  );
}

/**
 * Polls each store until `done` says so for it (it then is not asked again), for 5 s at most;
 * what each store came to, for comparison.
 */
async function pollAll(
  stores: StoreUnderTest[],
  done: (store: LockStore) => Promise<boolean>,
): Promise<Record<string, string>> {
  const deadline = Date.now() + 5_000;
  const pending = new Set(stores);
  while (pending.size > 0 && Date.now() < deadline) {
    for (const target of [...pending]) {
      if (await done(target.store)) pending.delete(target);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Object.fromEntries(
    stores.map((t) => [t.label, pending.has(t) ? 'not within 5 s' : 'done']),
  );
}

/** Polls until no store holds a lock on `name` with less than a long ttl left. */
async function waitOutShortLocks(stores: StoreUnderTest[], name: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const states = await Promise.all(stores.map(({ store }) => store.inspect(name)));
    if (states.every((state) => state.ttlLeft === null || state.ttlLeft > 10 * SHORT_TTL)) return;
    if (Date.now() > deadline) throw new Error(`a ${SHORT_TTL} ms lock on ${name} never expired`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Divergence {
  step: number;
  op: Op;
  answers: Record<string, unknown>;
}

/** Replays `ops` on fresh names in every store; the first step whose answers differ, if any. */
async function replay(ops: Op[], stores: StoreUnderTest[]): Promise<Divergence | null> {
  const base = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;
  const run: Replay = {
    prefix: `d${randomBytes(5).toString('hex')}`,
    base,
    tokens: [],
    plainTokens: [],
    claimIds: [0, 1, 2].map(() => randomBytes(6).toString('hex')),
    clamped: [],
  };
  const ledgers = stores.map((): StoreLedger => ({ fences: new Map(), fenceOf: new Map() }));
  for (const [step, op] of ops.entries()) {
    if (op.op === 'acquire') run.tokens.push(newToken());
    if (op.op === 'plain' && op.tok === 'new') run.plainTokens.push(newToken());
    if (op.op === 'plain' && op.tok !== 'new') run.plainTokens.push(run.plainTokens[op.tok]!);
    const now = Date.now();
    const window: [number, number] = [now, Number.POSITIVE_INFINITY];
    if (op.op === 'release' && (op.odd === 'future' || op.odd === 'not a number')) {
      run.clamped.push(window);
    }
    const answers = await Promise.all(
      stores.map((target, i) => apply(op, target, ledgers[i]!, run, now)),
    );
    window[1] = Date.now();
    const tokenOrder = ledgers.map((ledger) =>
      [...ledger.fences.values()].every((fences) =>
        fences.every((f, i) => i === 0 || f > fences[i - 1]!),
      ),
    );
    if (
      !answers.every((answer) => isDeepStrictEqual(answer, answers[0])) ||
      tokenOrder.some((ok) => !ok)
    ) {
      return {
        step,
        op,
        answers: Object.fromEntries(
          stores.map((target, i) => [
            target.label,
            tokenOrder[i] ? answers[i] : { tokensNotIncreasing: answers[i] },
          ]),
        ),
      };
    }
    if (leavesShortLock(op) && 'job' in op) {
      await waitOutShortLocks(stores, nameOf(run, op.job));
    }
    let waited: Record<string, string> | undefined;
    if (op.op === 'pause' && op.until === 'soon') {
      // The pause ends by itself on every store's clock.
      const name = nameOf(run, op.job);
      waited = await pollAll(stores, async (store) => !(await store.inspect(name)).paused);
    }
    if (waited && Object.values(waited).some((outcome) => outcome !== 'done')) {
      return { step, op, answers: waited };
    }
  }
  return null;
}

/** Renumbers the tokens a shrunk sequence refers to, so that removing an acquire keeps the others' meaning. */
function withoutStep(ops: Op[], removed: number): Op[] {
  const acquireIndex = (upTo: number): number =>
    ops.slice(0, upTo).filter((o) => o.op === 'acquire').length;
  const removedAcquire = ops[removed]!.op === 'acquire' ? acquireIndex(removed) : -1;
  return ops
    .filter((_, i) => i !== removed)
    .map((op) => {
      if ((op.op === 'renew' || op.op === 'release') && removedAcquire >= 0) {
        if (op.tok === removedAcquire) return { ...op, tok: 10_000 }; // a stranger now
        if (op.tok > removedAcquire) return { ...op, tok: op.tok - 1 };
      }
      return op;
    });
}

/** Drops steps while the sequence still diverges: a short reproduction. */
async function shrink(
  ops: Op[],
  stores: StoreUnderTest[],
): Promise<{ ops: Op[]; divergence: Divergence }> {
  let current = ops;
  let divergence = (await replay(current, stores))!;
  current = current.slice(0, divergence.step + 1);
  for (let i = current.length - 2; i >= 0; i--) {
    const candidate = withoutStep(current, i);
    const found = await replay(candidate, stores);
    if (found) {
      current = candidate.slice(0, found.step + 1);
      divergence = found;
      i = Math.min(i, current.length - 1);
    }
  }
  return { ops: current, divergence };
}

/** Runs `count` sequences from `firstSeed`, `parallel` at a time; the failing seeds, shrunk. */
async function differential(
  stores: StoreUnderTest[],
  firstSeed: number,
  count: number,
  length: number,
  parallel = 6,
): Promise<string[]> {
  const failures: string[] = [];
  let next = firstSeed;
  const worker = async (): Promise<void> => {
    while (next < firstSeed + count) {
      const seed = next++;
      const ops = sequence(seed, length);
      const found = await replay(ops, stores);
      if (found) {
        // Said at once: shrinking takes a while, and the run may be cut short meanwhile.
        console.log(`seed ${seed} diverges at step ${found.step}; shrinking`);
        const { ops: shrunk, divergence } = await shrink(ops, stores);
        failures.push(
          `seed ${seed}: step ${divergence.step} ${JSON.stringify(divergence.op)} diverges\n` +
            `  sequence: ${JSON.stringify(shrunk)}\n` +
            Object.entries(divergence.answers)
              .map(([label, answer]) => `  ${label}: ${JSON.stringify(answer)}`)
              .join('\n'),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return failures.sort();
}

describe('the three built-in stores answer alike (differential)', () => {
  const pool = newPool();
  const table = uniqueTable('differential');
  let stores: StoreUnderTest[];

  beforeAll(async () => {
    stores = [
      { label: 'memory', store: new MemoryLockStore() },
      {
        label: 'redis',
        store: new RedisLockStore(testRedisUrl(), {
          keyPrefix: uniquePrefix('diff'),
          logger: false,
        }),
      },
      { label: 'postgres', store: new PostgresLockStore(pool, { table, logger: false }) },
    ];
  });

  afterAll(async () => {
    for (const { store } of stores ?? []) await store.close();
    await dropTable(pool, table);
    await pool.end();
  });

  it('gives the same answers to 300 seeded random sequences of store operations', async () => {
    const failures = await differential(
      stores,
      Number(process.env.DIFF_SEED ?? 1),
      Number(process.env.DIFF_COUNT ?? 300),
      30,
    );
    expect(failures.slice(0, Number(process.env.DIFF_SHOW ?? 5)).join('\n\n')).toBe('');
  }, 120_000);
});
