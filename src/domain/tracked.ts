/** A promise whose outcome can be read synchronously, for work that a time limit may cut short. */

/** A promise and, once it settles, its value. */
export interface Tracked<T> {
  /** Settles, never rejecting, once the promise has. */
  promise: Promise<void>;
  /** True once the promise has settled. */
  done: boolean;
  /** What the promise fulfilled with. */
  value?: T;
  /** What the promise rejected with. */
  error?: unknown;
}

/** Tracks `promise`: its outcome can be read without awaiting it, once it has settled. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const box: Tracked<T> = { promise: Promise.resolve(), done: false };
  box.promise = promise.then(
    (value) => {
      box.value = value;
      box.done = true;
    },
    (error: unknown) => {
      box.error = error;
      box.done = true;
    },
  );
  return box;
}
