/**
 * Tells a server when another server finished a message it accepted, so that its `send()` settles wherever the
 * message was sent: BullMQ's event stream of the queue (`QueueEvents`) is read from the first message handed over
 * with `send()` (not `enqueue()`, whose outcome nobody waits for: reading every event of a busy fleet costs each
 * server CPU), and the `completed` and `failed` events of those messages are passed on.
 */
import { type ConnectionOptions, QueueEvents } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { SpoolCipher } from '../outbox/spool/cipher.js';
import type { FinishedElsewhere } from '../outbox/types.js';
import { isMessageJob, messageIdOf } from './job-id.js';
import type { ResolvedFleetOutboxOptions } from './outbox-options.js';
import { cancelledOf, reportOf } from './outcome-codec.js';

const ignore = (): void => undefined;
/** How long `close()` waits for the event reader to stop. */
const CLOSE_TIMEOUT_MS = 2000;
/** How long one read of the event stream blocks: also how long a closed reader may keep its connection. */
const BLOCK_MS = 2000;

/** Follows the outcomes of the messages this server handed over. */
export class OutcomeFollower {
  readonly #options: ResolvedFleetOutboxOptions;
  readonly #cipher: SpoolCipher | undefined;
  readonly #finished: (id: string, outcome: FinishedElsewhere) => void;
  readonly #pending = new Set<string>();
  #events: QueueEvents | undefined;
  #starting: Promise<QueueEvents> | undefined;
  #closed = false;

  /**
   * @param options - the fleet outbox's options (Redis, queue, prefix)
   * @param cipher - opens sealed delivery reports
   * @param finished - told of each message finished by another server
   */
  constructor(
    options: ResolvedFleetOutboxOptions,
    cipher: SpoolCipher | undefined,
    finished: (id: string, outcome: FinishedElsewhere) => void,
  ) {
    this.#options = options;
    this.#cipher = cipher;
    this.#finished = finished;
  }

  /**
   * Makes sure events are read from now on: at the first call, finds the stream's last event and starts reading
   * after it, so that no outcome of a message handed over from now on is missed. Call it before the hand-over.
   */
  async ready(): Promise<void> {
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined; // tried again at the next hand-over
      throw error;
    });
    this.#events = await this.#starting;
  }

  /** Follows a message just handed over (after {@link OutcomeFollower.ready}), by its job id. */
  track(id: string): void {
    if (!this.#closed) this.#pending.add(id);
  }

  /** Stops following a message this server finished itself (its job id). */
  forget(id: string): void {
    this.#pending.delete(id);
  }

  /** Stops reading events. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#pending.clear();
    const events = this.#events ?? (await this.#starting?.catch(() => undefined));
    if (events === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    });
    await Promise.race([events.close().catch(ignore), late]);
    clearTimeout(timer);
    await Promise.race([
      events.disconnect().catch(ignore),
      new Promise((resolve) => setTimeout(resolve, 100)),
    ]);
  }

  async #start(): Promise<QueueEvents> {
    const { redis, queue, prefix } = this.#options;
    const lastEventId = await lastEvent(redis, `${prefix}:${queue}:events`);
    const events = new QueueEvents(queue, {
      connection: { ...redis, maxRetriesPerRequest: null } as ConnectionOptions,
      prefix,
      lastEventId,
      blockingTimeout: BLOCK_MS,
    });
    events.on('error', ignore); // the outbox's own commands report Redis trouble
    events.on('completed', ({ jobId, returnvalue }) => {
      const id = this.#take(jobId);
      if (id === undefined) return;
      const report = reportOf(returnvalue, messageIdOf(id), this.#cipher);
      if (report !== undefined) this.#tell(id, { state: 'sent', report });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const id = this.#take(jobId);
      if (id === undefined) return;
      const cancelled = cancelledOf(String(failedReason));
      this.#tell(id, {
        state: 'cancelled',
        reason: cancelled?.reason ?? 'permanent',
        attempts: cancelled?.attempts ?? 0,
        error: new Error(cancelled?.message ?? String(failedReason)),
      });
    });
    events.on('removed', ({ jobId }) => {
      const id = this.#take(jobId);
      if (id === undefined) return;
      const error = new Error(
        "It was removed from the fleet's outbox by another server (Max Errors Before Cancel was lowered there) or by hand",
      );
      this.#tell(id, { state: 'cancelled', reason: 'outbox', attempts: 0, error });
    });
    return events;
  }

  /** The job id of a message this server follows, no longer followed; undefined for any other job. */
  #take(jobId: string): string | undefined {
    if (!isMessageJob(jobId)) return undefined; // not a message of this library
    return this.#pending.delete(jobId) ? jobId : undefined;
  }

  #tell(id: string, outcome: FinishedElsewhere): void {
    try {
      this.#finished(id, outcome);
    } catch {
      // a failing listener must not stop the reading of events
    }
  }
}

/** The id of the last entry of a stream ('0' when it is empty), read once with a connection of its own. */
async function lastEvent(redis: RedisOptions, key: string): Promise<string> {
  const client = new Redis({ ...redis, lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', ignore);
  try {
    await client.connect();
    const [last] = await client.xrevrange(key, '+', '-', 'COUNT', 1);
    return last?.[0] ?? '0';
  } finally {
    client.disconnect();
  }
}
