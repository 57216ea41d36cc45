/**
 * The text of any value a job, a listener or a store may throw. `String(value)` itself throws for
 * some: an object without a prototype (`Object.create(null)`), one whose `toString` throws or
 * returns an object, a revoked proxy. This text is built while a failure is being reported, where
 * a second error would replace the first (or escape as an unhandled rejection): never throws.
 */
export function thrownText(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      // `[object Object]`, or the tag the value declares.
      return Object.prototype.toString.call(value);
    } catch {
      return '[unprintable value]';
    }
  }
}

/** What a thrown value says about itself: read once, never throwing. */
export interface ThrownDescription {
  /** Whether it is an `Error` (whose `name` and `message` follow). */
  isError: boolean;
  /** An Error's `name`; otherwise the value's `typeof`. */
  name: string;
  /** An Error's `message`; otherwise {@link thrownText} of the value. */
  message: string;
  /** An Error's stack, when it has one as text. */
  stack: string | undefined;
}

/**
 * Describes a thrown value for a log line, an event or a job's history, whatever it is. An Error
 * whose `name`, `message` or `stack` getter throws is described as a value of no known kind.
 */
export function describeThrown(error: unknown): ThrownDescription {
  try {
    if (error instanceof Error) {
      const stack: unknown = error.stack;
      return {
        isError: true,
        name: thrownText(error.name),
        message: thrownText(error.message),
        stack: typeof stack === 'string' ? stack : undefined,
      };
    }
  } catch {
    // A getter (or a proxy's trap) that throws: the value says nothing reliable about itself.
  }
  return { isError: false, name: typeof error, message: thrownText(error), stack: undefined };
}
