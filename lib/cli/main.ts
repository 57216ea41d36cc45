#!/usr/bin/env node
// `npx nestjs-cron-lock status | release <job>`: see cli-args.ts for the usage.
import { runCli } from './cli.js';

// A reader that stops early (`| head -1`, `2>&1 | head -1`) closes the pipe, and the next write
// fails with EPIPE, which as an unhandled 'error' event would crash with a stack trace and exit 1
// whatever the command's outcome. What is left to print is dropped and the command ends as it
// would have (its work is done, or about to be); only a write that failed for another reason is
// an error. On stderr, with nowhere left to say so, that only fails the exit code.
let outputFailed = false;
const readerGone = (error: NodeJS.ErrnoException): boolean =>
  error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED';
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (readerGone(error)) {
    return;
  }
  process.stderr.write(`nestjs-cron-lock: cannot write the output: ${error.code ?? error.name}\n`);
  outputFailed = true;
  process.exitCode = 1;
});
process.stderr.on('error', (error: NodeJS.ErrnoException) => {
  if (readerGone(error)) {
    return;
  }
  outputFailed = true;
  process.exitCode = 1;
});

const code = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// A failed write that came while the command ran still fails it.
process.exitCode = outputFailed && code === 0 ? 1 : code;
