import { Command } from 'ioredis';
import { numberText } from '../../../utils/number-text.js';
import { unrefTimer } from '../../../utils/unref-timer.js';

/**
 * ioredis' own error text for a command unanswered within `commandTimeout`, which
 * {@link DeadlineCommand} rejects with too, so one check reads either.
 */
export const COMMAND_TIMED_OUT = 'Command timed out';

/**
 * The commands waiting under one timeout value, oldest first. Their deadlines only grow (same
 * timeout, later start), so the head is always the first one due.
 */
class DeadlineQueue {
  private commands: DeadlineCommand[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly timeout: number) {}

  add(command: DeadlineCommand): void {
    // Replies on one connection come back in order: the commands before this one have
    // usually been answered already, so the queue stays as long as what is in flight.
    this.dropSettled();
    this.commands.push(command);
    this.timer ??= this.arm(this.timeout);
  }

  /** Rejects what is due, then waits for the next deadline; stops when nothing is waiting. */
  private readonly check = (): void => {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.commands.length) {
      const command = this.commands[this.head];
      if (!isDone(command)) {
        if (command.deadline > now) {
          break;
        }
        command.reject(command.timeoutError());
      }
      this.head++;
    }
    this.compact();
    if (this.commands.length > 0) {
      this.timer = this.arm(this.commands[0].deadline - now);
    }
  };

  /** Drops the answered commands at the head (the common case: all of them). */
  private dropSettled(): void {
    while (this.head < this.commands.length && isDone(this.commands[this.head])) {
      this.head++;
    }
    if (this.head === this.commands.length) {
      this.commands.length = 0;
      this.head = 0;
    }
  }

  private compact(): void {
    if (this.head > 0) {
      this.commands.splice(0, this.head);
      this.head = 0;
    }
  }

  private arm(delay: number): ReturnType<typeof setTimeout> {
    // Unref'd: a timer that outlives the last command by up to one timeout must not keep the
    // process alive; the connection a waiting command was written to already does.
    return unrefTimer(setTimeout(this.check, Math.max(1, Math.ceil(delay))));
  }
}

const queues = new Map<number, DeadlineQueue>();

/** Never written to: the constructor copies it into a new array. */
const NO_ARGS: never[] = [];

/**
 * The RESP header of an argument of each byte length up to 255 (`$12\r\n`), made once: a script
 * call's arguments are short and their lengths repeat, and turning each length into text again
 * was a large part of building the call's text.
 */
const HEADERS: readonly string[] = Array.from({ length: 256 }, (_, bytes) => `$${bytes}\r\n`);

/** A number as ioredis writes one: an integer beyond 2^53 in full, not in exponent form. */
function argText(value: number): string {
  return Number.isInteger(value) && !Number.isSafeInteger(value)
    ? BigInt(value).toString()
    : numberText(value);
}

/** ioredis 6 marks a rejected command settled; ioredis 5 only marks a resolved one. */
function isSettled(command: Command): boolean {
  return command.isResolved || (command as { isSettled?: boolean }).isSettled === true;
}

/** Answered, or no longer this queue's to time out (see DeadlineCommand.extendTimeout). */
function isDone(command: DeadlineCommand): boolean {
  return command.ownTimer !== undefined || isSettled(command);
}

/**
 * An ioredis command whose `commandTimeout` is kept by one timer per timeout value instead of
 * one timer per command.
 *
 * ioredis arms a `setTimeout` for every command it sends and clears it when the reply comes.
 * A lock cycle sends two commands, and a timer per command is work on every lock cycle.
 * Here a command only joins a queue; the
 * one timer fires at the oldest command's deadline, drops what was answered in the meantime,
 * rejects what is still waiting with ioredis' own `Command timed out` error, and re-arms for
 * the next one: a busy client re-arms it about once per timeout, however many commands it
 * sends. The deadline starts when the client sends the command, as ioredis' does, and only a
 * client with a `commandTimeout` calls this (a client without one waits, as it would anyway).
 */
export class DeadlineCommand extends Command {
  deadline = 0;
  /** ioredis 6.1+, during a maintenance window: the error to time out with. */
  private createTimeoutError: (() => Error) | undefined = undefined;
  /** Set once a maintenance window pushed the deadline back (see extendTimeout). */
  ownTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /**
   * A script call built by {@link DeadlineCommand.evalsha}: bit `i` set when argument `i` is
   * ASCII (the SHA, the key count and the numbers), whose length is its byte length: what
   * `toWritable` falls back on when a text argument is not ASCII.
   */
  private asciiArgs: number | undefined = undefined;

  /**
   * `EVALSHA sha` with `keys` and `args`, as the client's options ask (reply as text, the
   * client's `keyPrefix` and friendly error stacks).
   *
   * ioredis' constructor copies its arguments through `Array.prototype.flat()`, which costs more
   * than the rest of building the command together. A script call's list is flat already (text
   * and numbers), so it is set, as text, after the constructor ran on an empty one. With a
   * `keyPrefix`, the constructor also prefixes the keys it finds in the list: that client takes
   * the constructor's path.
   */
  static evalsha(
    sha: string,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
    options: { keyPrefix?: string; showFriendlyErrorStack?: boolean },
  ): DeadlineCommand {
    const settings = {
      replyEncoding: 'utf8' as const,
      keyPrefix: options.keyPrefix,
      errorStack: options.showFriendlyErrorStack ? new Error() : undefined,
    };
    if (options.keyPrefix) {
      return new DeadlineCommand('evalsha', [sha, keys.length, ...keys, ...args], settings);
    }
    const command = new DeadlineCommand('evalsha', NO_ARGS, settings);
    // Sized once, filled in place: pushing grows the list several times per command.
    const start = 2 + keys.length;
    const list = new Array<string>(start + args.length);
    list[0] = sha;
    list[1] = String(keys.length);
    let ascii = 0b11;
    for (let i = 0; i < keys.length; i++) {
      list[2 + i] = keys[i];
    }
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === 'string') {
        list[start + i] = arg;
      } else {
        list[start + i] = argText(arg);
        ascii |= 1 << (start + i);
      }
    }
    command.args = list;
    // More arguments than bits: ioredis' own toWritable.
    command.asciiArgs = list.length <= 30 ? ascii : undefined;
    return command;
  }

  /**
   * The text ioredis writes for the command. A script call's is built from its list in one pass,
   * the ASCII arguments' lengths taken as their byte lengths: ioredis' own `toWritable` asks every
   * argument's byte length, and was the costliest step between a run's call and its socket
   * write. Built here, when ioredis writes the command, rather than with the command: a burst of
   * calls builds every command before the turn's one write, and text made then would be carried
   * through the collections of the burst. Same bytes either way.
   *
   * The text arguments are nearly always ASCII too (keys, owner token, instance id, flags, a
   * history entry): the text is first built taking every length as its byte length, and one
   * byte count of the whole text confirms it, which a character beyond ASCII would make larger.
   * That count also joins the text into one piece, which the socket write would do anyway. Only
   * then is the text built again with each text argument measured on its own.
   */
  override toWritable(socket: unknown): string | Buffer {
    const ascii = this.asciiArgs;
    if (ascii === undefined) {
      return super.toWritable(socket as never);
    }
    const list = this.args as string[];
    const head = `*${list.length + 1}\r\n$7\r\nevalsha\r\n`;
    let text = head;
    for (let i = 0; i < list.length; i++) {
      const arg = list[i];
      const bytes = arg.length;
      text += (bytes < 256 ? HEADERS[bytes] : `$${bytes}\r\n`) + arg + '\r\n';
    }
    if (Buffer.byteLength(text) === text.length) {
      return text;
    }
    text = head;
    for (let i = 0; i < list.length; i++) {
      const arg = list[i];
      const bytes = (ascii >>> i) & 1 ? arg.length : Buffer.byteLength(arg);
      text += (bytes < 256 ? HEADERS[bytes] : `$${bytes}\r\n`) + arg + '\r\n';
    }
    return text;
  }

  /**
   * Starts the deadline. ioredis 6.1+ passes, during a Redis maintenance window (Redis Enterprise
   * and Redis Cloud announce one with a push), its relaxed timeout and the error to fail with.
   */
  override setTimeout(ms: number, createTimeoutError?: () => Error): void {
    // ioredis keeps the first timer when a command is sent again (a resend after a reconnect).
    if (this.deadline !== 0) {
      return;
    }
    this.createTimeoutError = createTimeoutError;
    this.deadline = performance.now() + ms;
    let queue = queues.get(ms);
    if (queue === undefined) {
      queue = new DeadlineQueue(ms);
      queues.set(ms, queue);
    }
    queue.add(this);
  }

  /**
   * ioredis 6.1+: a maintenance window opened while the command waits (or it is sent again
   * during one), so its deadline moves to no earlier than `ms` from now and it fails with the
   * window's error, as ioredis does for its own commands. A later deadline breaks its queue's
   * order, so the command leaves the queue for a timer of its own: rare, unlike the queue's
   * commands. A command just sent, whose deadline `setTimeout` set a moment ago with the same
   * value, stays where it is.
   */
  override extendTimeout(ms: number, createTimeoutError?: () => Error): void {
    if (this.deadline === 0 || isSettled(this)) {
      return;
    }
    this.createTimeoutError = createTimeoutError;
    const now = performance.now();
    if (now + ms - this.deadline < 1) {
      return;
    }
    this.deadline = now + ms;
    clearTimeout(this.ownTimer);
    this.ownTimer = unrefTimer(
      setTimeout(() => {
        if (!isSettled(this)) {
          this.reject(this.timeoutError());
        }
      }, Math.ceil(ms)),
    );
  }

  /** The error of a missed deadline: ioredis' own, whichever it is for this command. */
  timeoutError(): Error {
    return this.createTimeoutError?.() ?? new Error(COMMAND_TIMED_OUT);
  }
}
