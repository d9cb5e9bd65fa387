/**
 * What a server opens in BullMQ for a fleet's queue, the same for one Mailer's outbox ({@link FleetOutbox}) and for
 * the queue of many districts ({@link FleetTenants}): the queue with its batched adds, the worker that claims by
 * hand, how many messages are ready, and the error that says Redis could not do something.
 */
import { type ConnectionOptions, Queue, Worker } from 'bullmq';
import { FleetUnavailableError } from '../errors.js';
import { scrubForeign } from '../secrets.js';
import { showValue } from '../truncate.js';
import { AddBatcher } from './add-batcher.js';
import type { ResolvedFleetOutboxOptions } from './outbox-options.js';

/** Attempts as BullMQ counts them: never the limit (Max Errors Before Cancel is applied by the Mailer). */
export const UNLIMITED_ATTEMPTS = 1_000_000_000;
/** How long Redis may take to store a batch of messages before their `send()` is told the fleet is unavailable. */
export const ADD_TIMEOUT_MS = 5000;

/** The queue, and its adds in batches; a batch Redis does not store within {@link ADD_TIMEOUT_MS} fails with `late`. */
export function openQueue(
  options: ResolvedFleetOutboxOptions,
  late: () => Error,
): { queue: Queue; batcher: AddBatcher } {
  const { redis, queue: name, prefix } = options;
  const connection = { ...redis, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
  const queue = new Queue(name, { connection: connection as ConnectionOptions, prefix });
  return { queue, batcher: new AddBatcher(queue, ADD_TIMEOUT_MS, late) };
}

/**
 * A worker that claims by hand (`getNextJob`), with BullMQ's stalled-job check and no lock renewal of its own (the
 * claims are renewed by whoever holds them).
 *
 * @param delayOf - the delay of a failed job's retry (the backoff strategy)
 */
export function openWorker(
  options: ResolvedFleetOutboxOptions,
  delayOf: (job: { id?: string } | undefined) => number,
): Worker {
  const { redis, queue, prefix, lockMs } = options;
  return new Worker(queue, null, {
    connection: { ...redis, maxRetriesPerRequest: null } as ConnectionOptions,
    prefix,
    autorun: false,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
    maxStalledCount: UNLIMITED_ATTEMPTS,
    skipLockRenewal: true,
    settings: { backoffStrategy: (_made, _type, _error, job) => delayOf(job) },
  });
}

/** How many messages the queue has ready now: waiting, and retries come due. */
export async function readyInQueue(queue: Queue): Promise<number> {
  const [counts, due] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized'),
    queue.getDelayedCount(Date.now() + 1),
  ]);
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + due;
}

/**
 * The error of something Redis could not do for the fleet's queue: where, what, why (secrets removed), the last
 * connection error, and what to check.
 */
export function unavailableError(
  where: { server: string; queue: string; secrets: readonly string[]; lastError: Error | undefined },
  error: unknown,
  what: string,
): FleetUnavailableError {
  if (error instanceof FleetUnavailableError) return error;
  const cause = scrubForeign(typeof error === 'string' ? new Error(error) : error, [...where.secrets]);
  const said = (text: string) => showValue(text.replace(/\.+$/, ''), { quote: false });
  const { lastError } = where;
  const last = lastError === undefined ? '' : ` (last connection error: ${said(lastError.message)})`;
  return new FleetUnavailableError(
    `Redis at ${where.server} could not ${what} in the fleet's outbox ${showValue(where.queue)}: ${said(cause.message)}${last}. Check that Redis is running and that this server can reach it.`,
    { cause },
  );
}
