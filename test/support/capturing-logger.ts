import type { LoggerService } from '@nestjs/common';

/** One line a {@link CapturingLogger} kept. */
export interface LogLine {
  level: string;
  message: string;
  /** The context Nest passes last (e.g. `CronLock`), when it passes one. */
  context: string | undefined;
}

/** A Nest LoggerService that keeps every line, for assertions on what the module logs. */
export class CapturingLogger implements LoggerService {
  readonly lines: LogLine[] = [];

  log(message: unknown, ...rest: unknown[]): void {
    this.push('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.push('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.push('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.push('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.push('verbose', message, rest);
  }

  /** The messages of the error lines. */
  errors(): string[] {
    return this.lines.filter((line) => line.level === 'error').map((line) => line.message);
  }

  /** Error lines that announce an alert. */
  alertLines(): string[] {
    return this.errors().filter((message) => message.startsWith('ALERT'));
  }

  private push(level: string, message: unknown, rest: unknown[]): void {
    const last = rest.at(-1);
    this.lines.push({
      level,
      message: String(message),
      context: typeof last === 'string' ? last : undefined,
    });
  }
}
