/**
 * One worker process of the fleet-scale scenario: plays `instances` instances of each contender
 * and fires one tick's attempts when the parent says so (see fleet-processes.ts).
 *
 *   node --import ./scripts/register-ts.mjs bench/scenarios/fleet-worker.ts <redis url> <instances>
 *
 * Forked with an IPC channel only; it exits once the parent says `close` or goes away.
 */
import { roundTrips } from '../support/redis.js';
import { startLocalFleet, type ContenderKind, type LocalFleet } from './fleet-members.js';
import type { ParentMessage, WorkerMessage } from './fleet-processes.js';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const [url, instancesArg] = process.argv.slice(2);
  const instances = Number(instancesArg);
  if (!url || !Number.isInteger(instances) || instances < 1) {
    throw new Error('fleet worker: usage: fleet-worker.ts <redis url> <instances>');
  }
  roundTrips.install();
  const fleets: Record<ContenderKind, LocalFleet> = {
    floor: await startLocalFleet('floor', url, instances),
    module: await startLocalFleet('module', url, instances),
  };
  const gc = (globalThis as { gc?: () => void }).gc;

  const handle = async (message: ParentMessage): Promise<void> => {
    if (message.type === 'prepare') {
      // The garbage of the tick before (maybe the other contender's) is collected before the
      // go, untimed, so no tick pays for another's.
      gc?.();
      send({ type: 'prepared' });
    } else if (message.type === 'go') {
      const trips = roundTrips.value;
      const cpu = process.cpuUsage();
      const runs = await fleets[message.kind].tick(message.jobs, message.round);
      const used = process.cpuUsage(cpu);
      send({
        type: 'settled',
        runs: Array.from(runs),
        roundTrips: roundTrips.value - trips,
        cpuMs: (used.user + used.system) / 1000,
      });
    } else {
      await Promise.all([fleets.floor.close(), fleets.module.close()]);
      process.exit(0);
    }
  };
  process.on('message', (message: ParentMessage) => {
    handle(message).catch(fail);
  });
  // Orphaned (the parent crashed): nothing left to measure.
  process.on('disconnect', () => process.exit(1));
  send({ type: 'ready' });
}

function fail(error: unknown): void {
  const message: WorkerMessage = {
    type: 'failed',
    message: error instanceof Error ? error.message : String(error),
  };
  // Exits once the message is out: exiting at once could drop it.
  if (process.send) {
    process.send(message, () => process.exit(1));
  } else {
    process.exit(1);
  }
}

main().catch(fail);
