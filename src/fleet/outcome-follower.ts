/**
 * Tells a server when another server finished a message it accepted, so that its `send()` settles wherever the
 * message was sent: BullMQ's event stream of the queue (`QueueEvents`) is read from the first message handed over
 * with `send()` (not `enqueue()`, whose outcome nobody waits for: reading every event of a busy fleet costs each
 * server CPU), and the `completed` and `failed` events of those messages are passed on.
 */
import { type ConnectionOptions, QueueEvents } from 'bullmq';
import type { SpoolCipher } from '../outbox/spool/cipher.js';
import type { FinishedElsewhere } from '../outbox/types.js';
import { messageIdOf } from './job-id.js';
import type { ResolvedFleetOutboxOptions } from './outbox-options.js';
import { cancelledOf, reportOf } from './outcome-codec.js';

const ignore = (): void => undefined;
/** How long `close()` waits for the event reader to stop. */
const CLOSE_TIMEOUT_MS = 2000;

/** Follows the outcomes of the messages this server handed over. */
export class OutcomeFollower {
  readonly #options: ResolvedFleetOutboxOptions;
  readonly #cipher: SpoolCipher | undefined;
  readonly #finished: (id: string, outcome: FinishedElsewhere) => void;
  readonly #pending = new Set<string>();
  #events: QueueEvents | undefined;
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

  /** Follows a message just handed over (and starts reading events at the first). */
  track(id: string): void {
    if (this.#closed) return;
    this.#pending.add(id);
    this.#events ??= this.#start();
  }

  /** Stops following a message this server finished itself. */
  forget(id: string): void {
    this.#pending.delete(id);
  }

  /** Stops reading events. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#pending.clear();
    const events = this.#events;
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

  #start(): QueueEvents {
    const { redis, queue, prefix } = this.#options;
    const events = new QueueEvents(queue, {
      connection: { ...redis, maxRetriesPerRequest: null } as ConnectionOptions,
      prefix,
    });
    events.on('error', ignore); // the outbox's own commands report Redis trouble
    events.on('completed', ({ jobId, returnvalue }) => {
      const id = messageIdOf(jobId);
      if (!this.#pending.delete(id)) return;
      const report = reportOf(returnvalue, id, this.#cipher);
      if (report !== undefined) this.#finished(id, { state: 'sent', report });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const id = messageIdOf(jobId);
      if (!this.#pending.delete(id)) return;
      const cancelled = cancelledOf(String(failedReason));
      this.#finished(id, {
        state: 'cancelled',
        reason: cancelled?.reason ?? 'permanent',
        attempts: cancelled?.attempts ?? 0,
        error: new Error(cancelled?.message ?? String(failedReason)),
      });
    });
    return events;
  }
}
