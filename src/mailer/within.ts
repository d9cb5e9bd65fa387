import type { Clock } from './clock.js';

/**
 * Settles like `promise`, or rejects with `timeoutError()` after `ms` milliseconds of `clock`, whichever comes
 * first. The timer is cleared as soon as the promise settles, so it never keeps a process alive.
 */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  clock: Clock,
  timeoutError: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(timeoutError()), ms);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
