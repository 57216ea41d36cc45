/**
 * `promise`, or a rejection with `Error(message)` once `ms` have passed without it settling, so
 * that a store that hangs cannot hang its caller (a health check, a startup check, the CLI). The
 * timer is cleared as soon as either side settles; `promise` itself is not cancelled.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer));
}
