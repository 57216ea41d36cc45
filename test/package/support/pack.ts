import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../support/fork-ts.js';

const run = promisify(execFile);
export const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Packs the package, as `npm publish` would, into `workDir`; the tarball's path. The build is the
 * test run's (see ensureBuilt in the global setup).
 */
export async function packInto(workDir: string): Promise<string> {
  const { stdout } = await run(
    npm,
    ['pack', '--json', '--ignore-scripts', '--pack-destination', workDir],
    { cwd: REPO_ROOT, timeout: 120_000 },
  );
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  return join(workDir, filename);
}
