/**
 * Ctrl+C (or SIGTERM) during `send`: seen at every step, reading the files, queuing the list, sending, waiting to
 * retry. Once it is pressed nothing new is handed to the SMTP server.
 */
import { EXIT_DELIVERY } from './exit-codes.js';
import { CliError } from './output.js';

/** A send that stopped on Ctrl+C before its message went out. Exit code 2, code `INTERRUPTED`. */
export class InterruptedError extends CliError {
  /**
   * @param message - what was not done, for a person
   */
  constructor(message: string) {
    super(message, { exitCode: EXIT_DELIVERY, code: 'INTERRUPTED' });
    this.name = 'InterruptedError';
  }
}

/**
 * Throws when Ctrl+C was pressed: the step about to begin must not start.
 *
 * @param signal - aborted on Ctrl+C
 * @throws InterruptedError when `signal` is aborted
 */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new InterruptedError('interrupted before sending: no message was sent');
}

/**
 * Gives the event loop a turn, so that a Ctrl+C pressed during long synchronous work (parsing a large list) is
 * handled, then throws if it was pressed.
 *
 * @param signal - aborted on Ctrl+C
 * @throws InterruptedError when `signal` is aborted
 */
export async function checkpoint(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return;
  await new Promise<void>((turn) => setImmediate(turn));
  throwIfInterrupted(signal);
}

/**
 * Runs `stop` on Ctrl+C, at once when it was pressed already.
 *
 * @param signal - aborted on Ctrl+C
 * @param stop - what to do
 * @returns a function that removes `stop` once the work is done
 */
export function whenInterrupted(signal: AbortSignal, stop: () => void): () => void {
  if (signal.aborted) {
    stop();
    return () => {};
  }
  signal.addEventListener('abort', stop, { once: true });
  return () => signal.removeEventListener('abort', stop);
}

/** Items started between two turns of the event loop, so that Ctrl+C is seen while a long list is queued. */
export const ITEMS_PER_TURN = 500;

/**
 * Starts `start` for each item in order, giving the event loop a turn every `perTurn` items (Ctrl+C is handled in
 * those turns), and stops at the first item after `signal` aborts.
 *
 * @param items - what to start
 * @param signal - aborted on Ctrl+C
 * @param start - starts one item and returns its outcome (typically a promise)
 * @param perTurn - items started between two turns @default 500 ({@link ITEMS_PER_TURN})
 * @returns the outcome of each item started, in order: fewer than `items` when interrupted
 */
export async function startEach<T, R>(
  items: readonly T[],
  signal: AbortSignal,
  start: (item: T) => R,
  perTurn = ITEMS_PER_TURN,
): Promise<R[]> {
  const started: R[] = [];
  for (const item of items) {
    if (started.length > 0 && started.length % perTurn === 0) {
      await new Promise<void>((turn) => setImmediate(turn));
    }
    if (signal.aborted) break;
    started.push(start(item));
  }
  return started;
}
