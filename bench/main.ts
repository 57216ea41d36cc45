/**
 * The project's benchmark: the lock's overhead against the raw Redis floor and against
 * `@sesamecare-oss/redlock` and `redis-semaphore`, side by side in one run.
 *
 *   npm run bench                 full run; prints the tables and rewrites BENCHMARKS.md
 *   npm run bench -- --quick      a few seconds; prints only (CI runs it so it cannot rot)
 *
 * Options: --only per-run,tick-storm,renewal,latency,memory,postgres,fleet-scale · --write (write BENCHMARKS.md even
 * with --quick/--only) · --note "text" (a remark printed in BENCHMARKS.md, e.g. about load) ·
 * --fleet-10x (the fleet-scale scenario also with ten times the jobs, 500,000 attempts over
 * worker processes, with --only: a full run always includes it, --quick never).
 *
 * Nothing timed fails the run: it exits 0 unless something crashes or the module runs a job
 * more (or less) than once per occurrence in the tick storm.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { startRedisServer } from '../test/support/redis-server.js';
import { fleetScaleScenario } from './scenarios/fleet-scale.js';
import { latencyScenario } from './scenarios/latency.js';
import { memoryScenario } from './scenarios/memory.js';
import { perRunScenario } from './scenarios/per-run.js';
import { postgresScenario } from './scenarios/postgres.js';
import { renewalScenario } from './scenarios/renewal.js';
import { tickStormScenario } from './scenarios/tick-storm.js';
import { describeMachine } from './support/machine.js';
import { connectedClient, redisVersion, roundTrips } from './support/redis.js';
import { renderMarkdown, renderText, type BenchConfig, type Section } from './support/section.js';

const SCENARIOS: Record<string, (config: BenchConfig) => Promise<Section>> = {
  'per-run': perRunScenario,
  'tick-storm': tickStormScenario,
  renewal: renewalScenario,
  latency: latencyScenario,
  memory: memoryScenario,
  postgres: postgresScenario,
  'fleet-scale': fleetScaleScenario,
};

interface Args {
  quick: boolean;
  fleet10x: boolean;
  write: boolean;
  only: string[] | null;
  note: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, fleet10x: false, write: false, only: null, note: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') {
      args.quick = true;
    } else if (arg === '--fleet-10x') {
      args.fleet10x = true;
    } else if (arg === '--write') {
      args.write = true;
    } else if (arg === '--only') {
      args.only = (argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = args.only.filter((name) => !(name in SCENARIOS));
      if (unknown.length > 0 || args.only.length === 0) {
        throw new Error(
          `--only takes a comma-separated list of: ${Object.keys(SCENARIOS).join(', ')}`,
        );
      }
    } else if (arg === '--note') {
      args.note = argv[++i] ?? null;
    } else {
      throw new Error(`unknown argument ${arg}; see the header of bench/main.ts`);
    }
  }
  return args;
}

/** The memory scenario forces GC: re-run this file under --expose-gc when started without it. */
function ensureExposedGc(): void {
  if (typeof (globalThis as { gc?: unknown }).gc === 'function') {
    return;
  }
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

function commandLine(args: Args): string {
  const extra = [
    args.quick ? '--quick' : '',
    args.fleet10x ? '--fleet-10x' : '',
    args.only ? `--only ${args.only.join(',')}` : '',
  ].filter(Boolean);
  return extra.length > 0 ? `npm run bench -- ${extra.join(' ')}` : 'npm run bench';
}

function markdown(
  args: Args,
  sections: Section[],
  machine: ReturnType<typeof describeMachine>,
  startedAt: Date,
  seconds: number,
): string {
  const summary = sections.flatMap((section) =>
    section.targets.map(
      (target) =>
        `| ${section.title.replace(/^\d+\.\s*/, '')} | ${target.label} | ${target.measured} | ` +
        `${target.met ? 'yes' : '**no**'} |`,
    ),
  );
  return [
    '# Benchmarks',
    '',
    'What one lock costs, measured against the physical floor (one `SET key token NX PX` to ' +
      'acquire and one `EVALSHA` compare-and-delete to release, on one ioredis client) and against ' +
      '`@sesamecare-oss/redlock` and `redis-semaphore` (single Redis, acquire + release), side by ' +
      'side in one run. Every contender runs in the same process against the same local ' +
      '`redis-server`, in interleaved rounds (A B C D, then B C D A, …), so load on the machine ' +
      'hits all of them alike; results are medians with their spread, and ratios are taken ' +
      "round by round against the floor's result in the same round.",
    '',
    '> This file is generated by the benchmark: edit `bench/`, not this file. Absolute numbers ' +
      'depend on the machine; compare the ratios.',
    '',
    '## How to run',
    '',
    '```sh',
    'npm run bench            # full run (a few minutes), rewrites BENCHMARKS.md',
    'npm run bench -- --quick # a few seconds, prints only; CI runs this',
    '```',
    '',
    `Command for the numbers below: \`${commandLine(args)}\`, started ${startedAt.toISOString()}, ` +
      `took ${Math.round(seconds)} s. Requires \`redis-server\` on PATH (the benchmark starts its ` +
      'own on a free port).',
    '',
    '## Machine',
    '',
    '| | |',
    '| --- | --- |',
    ...machine.rows.map(([key, value]) => `| ${key} | ${value} |`),
    '',
    `> ${machine.loadRemark}`,
    '',
    ...(args.note ? [`> ${args.note}`, ''] : []),
    '## Summary',
    '',
    '| Scenario | Target | Measured | Met |',
    '| --- | --- | --- | --- |',
    ...summary,
    '',
    ...sections.map(renderMarkdown),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  ensureExposedGc();
  roundTrips.install();

  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const server = await startRedisServer();
  const sections: Section[] = [];
  let version: string | undefined;
  /** Read before the fleet's worker processes start, which load the machine themselves. */
  let loadBeforeWorkers: number[] | null = null;
  try {
    const probe = await connectedClient(server.url);
    version = await redisVersion(probe);
    await probe.quit();
    const config: BenchConfig = {
      quick: args.quick,
      // Part of a full run; with --only, asked for by the flag.
      fleet10x: args.fleet10x || (!args.quick && args.only === null),
      redisUrl: server.url,
      progress: (line) => process.stderr.write(`  ${line}\n`),
    };
    console.log(
      `nestjs-cron-lock benchmark (${args.quick ? 'quick' : 'full'}), redis-server ${version} on ` +
        `port ${server.port}\n`,
    );
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (args.only && !args.only.includes(name)) {
        continue;
      }
      if (name === 'fleet-scale' && config.fleet10x === true) {
        loadBeforeWorkers = os.loadavg();
      }
      const section = await scenario(config);
      sections.push(section);
      console.log(`${renderText(section)}\n`);
    }
  } finally {
    await server.stop();
  }

  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const machine = describeMachine(
    version ?? 'unknown',
    loadBefore,
    os.loadavg(),
    loadBeforeWorkers,
  );
  console.log(machine.rows.map(([key, value]) => `${key}: ${value}`).join('\n'));
  console.log(machine.loadRemark);
  console.log('\nTargets:');
  for (const section of sections) {
    for (const target of section.targets) {
      console.log(`  [${target.met ? 'met' : 'NOT met'}] ${target.label}: ${target.measured}`);
    }
  }
  console.log(`\nDone in ${seconds.toFixed(1)} s (${commandLine(args)}).`);
  const write = args.write || (!args.quick && args.only === null);
  if (write) {
    const file = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));
    // Formatted like every other file of the repository, so `prettier --check` stays clean.
    const text = await format(markdown(args, sections, machine, startedAt, seconds), {
      ...(await resolveConfig(file)),
      filepath: file,
    });
    writeFileSync(file, text);
    console.log('Wrote BENCHMARKS.md.');
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
