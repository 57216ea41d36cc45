import { createCronTime, CronOccurrences, previousCronDate } from '../../lib/utils/occurrence.js';
import { startLockApp } from '../support/apps.js';
import { connectedClient, RawLock } from '../support/redis.js';
import type { BenchConfig, Section } from '../support/section.js';
import {
  formatRatio,
  formatSummary,
  median,
  summarizeRounds,
  summarizeSamples,
} from '../support/stats.js';
import { quit } from './per-run.js';

const SERIES = [
  'PING round trip (raw client)',
  'floor: SET NX PX (acquire)',
  'floor: EVALSHA compare-and-delete (release)',
  'nestjs-cron-lock: tick -> job body starts',
  'nestjs-cron-lock: job body ends -> `released` event',
  'nestjs-cron-lock: job body ends -> run() resolves',
] as const;

/**
 * Scenario 4: the latency the lock adds to a job, on both sides of the body, next to one raw
 * round trip. Every sample of every series is taken in turn, so they share the same load.
 */
export async function latencyScenario(config: BenchConfig): Promise<Section> {
  const rounds = config.quick ? 1 : 5;
  const perRound = config.quick ? 100 : 400;
  const client = await connectedClient(config.redisUrl);
  const raw = new RawLock(client);
  await raw.load();
  const { locks, close } = await startLockApp({
    redis: config.redisUrl,
    keyPrefix: 'bench-latency',
  });
  let releasedAt = 0;
  const unsubscribe = locks.on('released', () => {
    releasedAt = performance.now();
  });

  // samples[series][round] = values
  const samples: number[][][] = SERIES.map(() => []);
  let occurrence = Date.UTC(2025, 0, 1);
  try {
    for (let round = -1; round < rounds; round++) {
      const current: number[][] = SERIES.map(() => []);
      for (let i = 0; i < perRound; i++) {
        let started = performance.now();
        await client.ping();
        current[0].push(performance.now() - started);

        started = performance.now();
        const token = await raw.acquire('bench-latency:floor', 30_000);
        current[1].push(performance.now() - started);
        started = performance.now();
        await raw.release('bench-latency:floor', token!);
        current[2].push(performance.now() - started);

        let bodyStart = 0;
        let bodyEnd = 0;
        occurrence += 1_000;
        const tick = performance.now();
        const result = await locks.run(
          'latency',
          { ttl: 30_000, scheduledAt: occurrence },
          async () => {
            bodyStart = performance.now();
            bodyEnd = performance.now();
          },
        );
        const resolved = performance.now();
        if (!result.ran) {
          throw new Error(`latency: run() did not run (${result.reason})`);
        }
        current[3].push(bodyStart - tick);
        current[4].push(releasedAt - bodyEnd);
        current[5].push(resolved - bodyEnd);
      }
      // Round -1 warms up connections, scripts and the JIT.
      if (round >= 0) {
        current.forEach((values, series) => samples[series].push(values));
        config.progress(`latency: round ${round + 1}/${rounds}`);
      }
    }
  } finally {
    unsubscribe();
    await close();
    await quit(client);
  }

  const lookup = cronLookupCost(config.quick ? 50 : 400);
  const pingPerRound = samples[0].map(median);
  const rows = SERIES.map((label, series) => {
    const all = samples[series].flat();
    const ratios = samples[series].map((values, round) => median(values) / pingPerRound[round]);
    const added = samples[series].map(
      (values, round) => (median(values) - pingPerRound[round]) * 1000,
    );
    return [
      label,
      formatSummary(summarizeSamples(all), 3),
      formatRatio(summarizeRounds(ratios)),
      series === 0 ? '–' : formatSummary(summarizeRounds(added), 0),
    ];
  });
  rows.push(
    [
      'a @LockedCron tick: its occurrence, remembered from the last tick',
      formatSummary(summarizeSamples(lookup.remembered), 4),
      '–',
      formatSummary(summarizeSamples(lookup.remembered.map((ms) => ms * 1000)), 1),
    ],
    [
      'a @LockedCron tick: its occurrence, searched (first tick, clock step)',
      formatSummary(summarizeSamples(lookup.searched), 3),
      '–',
      formatSummary(summarizeSamples(lookup.searched.map((ms) => ms * 1000)), 0),
    ],
  );
  const ratioOf = (series: number) =>
    summarizeRounds(samples[series].map((values, round) => median(values) / pingPerRound[round]));
  const before = ratioOf(3);
  const after = ratioOf(4);
  return {
    title: '4. Latency added to a job',
    method:
      `${rounds} rounds of ${perRound} samples of each series, taken in turn (after one ` +
      'warm-up round). The tick is the call of `CronLockService.run(name, { ttl, scheduledAt }, fn)` ' +
      '(what a locked cron method does at each tick); the release is timed to the `released` ' +
      'event and to the resolution of run(). Latencies in ms as median (p10–p90 over all ' +
      'samples); ratios are per round against the median PING of the same round (min–max over ' +
      'rounds).',
    headers: ['Series', 'ms median (p10–p90)', 'vs PING (min–max)', 'µs over one PING (min–max)'],
    rows,
    targets: [
      {
        label: 'tick -> body start <= 1.3x a PING',
        measured: formatRatio(before),
        met: before.median <= 1.3,
      },
      {
        label: 'body end -> released <= 1.3x a PING',
        measured: formatRatio(after),
        met: after.median <= 1.3,
      },
    ],
    notes: [
      'Both targets are judged against the median PING of the same round. On ' +
        'loopback a round trip is a few tens of µs, so a fixed client-side cost weighs much ' +
        'more here than over a network; the last column gives that cost in µs.',
      'A locked cron method also works out which occurrence its tick belongs to before it ' +
        'acquires: the last two rows time that step alone (`*/5 * * * * *` in UTC; their last ' +
        'column is the step itself, not an excess over a PING). A tick finds the occurrence that ' +
        'the previous run worked out after it ended (CronOccurrences); only the first tick, or ' +
        'one after a clock step, searches with the `cron` package.',
    ],
  };
}

/**
 * What a `@LockedCron` tick spends on its occurrence before it acquires, in ms per tick: found
 * among the occurrences its previous run worked out (`remembered`), or searched from scratch as
 * on the first tick (`searched`).
 */
function cronLookupCost(ticks: number): { remembered: number[]; searched: number[] } {
  const expression = '*/5 * * * * *';
  const time = createCronTime(expression, 'UTC');
  const times: number[] = [];
  let at = Date.UTC(2030, 0, 1);
  while (times.length < ticks + 20) {
    at = time.getNextDateFrom(new Date(at), 'UTC').toMillis();
    times.push(at + 3);
  }
  const occurrences = new CronOccurrences(time);
  const remembered: number[] = [];
  const searched: number[] = [];
  times.forEach((tick, index) => {
    let started = performance.now();
    occurrences.at(tick);
    const lookup = performance.now() - started;
    occurrences.prepare();
    started = performance.now();
    previousCronDate(time, tick);
    const search = performance.now() - started;
    // The first 20 ticks warm the JIT up.
    if (index >= 20) {
      remembered.push(lookup);
      searched.push(search);
    }
  });
  return { remembered, searched };
}
