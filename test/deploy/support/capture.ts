import type { LoggerService } from '@nestjs/common';

/** Everything written while capturing: logger calls, stdout/stderr writes and console calls. */
export interface Capture {
  /** A Nest LoggerService that records every call (all levels, every argument). */
  readonly logger: LoggerService;
  /** Lines given to {@link logger}, as `<level> <message>`. */
  readonly lines: string[];
  /** All captured text: logger calls, process.stdout/stderr writes, console calls. */
  text(): string;
  /** Lines of {@link lines} at one level. */
  at(level: 'log' | 'warn' | 'error' | 'debug' | 'verbose'): string[];
  /** Restores process.stdout/stderr and console. */
  stop(): void;
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ''}`;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString();
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Starts capturing: the returned logger records its calls, and every write to process.stdout,
 * process.stderr and console is recorded too (and still passed through, so a failing test keeps
 * its output).
 */
export function startCapture(): Capture {
  const lines: string[] = [];
  const raw: string[] = [];
  const record =
    (level: string) =>
    (...args: unknown[]): void => {
      lines.push(`${level} ${args.map(stringify).join(' ')}`);
    };
  const logger: LoggerService = {
    log: record('log'),
    error: record('error'),
    warn: record('warn'),
    debug: record('debug'),
    verbose: record('verbose'),
    fatal: record('fatal'),
  };

  const restores: Array<() => void> = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      raw.push(stringify(chunk));
      return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof stream.write;
    restores.push(() => (stream.write = original));
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      raw.push(args.map(stringify).join(' '));
      original.apply(console, args);
    };
    restores.push(() => (console[method] = original));
  }

  return {
    logger,
    lines,
    text: () => [...lines, ...raw].join('\n'),
    at: (level) =>
      lines
        .filter((line) => line.startsWith(`${level} `))
        .map((line) => line.slice(level.length + 1)),
    stop: () => {
      for (const restore of restores.splice(0).reverse()) restore();
    },
  };
}
