/**
 * What happens to every message of a fleet's outbox, wherever it is sent: BullMQ's own event stream of the queue
 * (`QueueEvents`, read from Redis), named as the Mailer names its events. Also the fleet-wide counts.
 */
import { type ConnectionOptions, Queue, QueueEvents } from 'bullmq';
import { EventEmitter } from 'eventemitter3';
import { type CancelReason, FleetUnavailableError } from '../errors.js';
import { scrubForeign, secretForms } from '../secrets.js';
import { showValue } from '../truncate.js';
import { messageIdOf, tenantOf } from './job-id.js';
import type { ResolvedFleetOutboxOptions } from './outbox-options.js';
import { cancelledOf } from './outcome-codec.js';
import { retryUntilClosed } from './retry-until-closed.js';

/** Counts of a fleet's outbox, across every server. */
export interface FleetCounts {
  /** Ready to be claimed by any server (new messages and retries that are due). */
  queued: number;
  /** Failed, waiting for their retry time. */
  waitingRetry: number;
  /** Claimed by a server, its attempt under way. */
  sending: number;
}

/** An event of one message of the fleet. */
export interface FleetMessageEvent {
  /** The message's id, as `send()`/`enqueue()` gave it. */
  id: string;
  /** The district, in a queue that many districts share (`fleetTenants`): ids are unique within a district. */
  tenant?: string;
}

/** An attempt failed, and the message waits for its retry; or its attempt was cut off. */
export interface FleetFailedEvent extends FleetMessageEvent {
  /** Milliseconds until the retry, when known. */
  delayMs?: number;
  /** The server of the attempt stopped while it was under way; another server will count it and retry. */
  unknownOutcome?: true;
}

/** The message was given up. */
export interface FleetCancelledEvent extends FleetMessageEvent {
  /** The last error's text, as the Mailer recorded it. */
  reason: string;
  /** Why it was given up: `'max-errors'` or `'permanent'`. */
  cause?: CancelReason;
  /** How many attempts it had. */
  attempts?: number;
}

/** The events of {@link FleetEvents}: each names the message by the id `send()`/`enqueue()` gave it. */
export interface FleetEventMap {
  /** A server handed the message to the fleet. */
  queued: [event: FleetMessageEvent];
  /** A server claimed it for an attempt. */
  sending: [event: FleetMessageEvent];
  /** The relay accepted it. */
  sent: [event: FleetMessageEvent];
  /** An attempt failed and the message waits for its retry, or its attempt was cut off by a server that stopped. */
  failed: [event: FleetFailedEvent];
  /** The message was given up (Max Errors Before Cancel, a permanent failure). */
  cancelled: [event: FleetCancelledEvent];
  /** Redis could not be read: the events resume when it is back. */
  error: [error: FleetUnavailableError];
}

/** Follows a fleet's outbox from any process; see {@link "messenger-email/fleet".fleetEvents}. */
export class FleetEvents extends EventEmitter<FleetEventMap> {
  readonly #events: QueueEvents;
  readonly #queue: Queue;
  readonly #server: string;
  readonly #name: string;
  readonly #secrets: string[];
  #closed = false;

  /** @param options - the same options as the fleet's outbox */
  constructor(options: ResolvedFleetOutboxOptions) {
    super();
    const { queue, prefix } = options;
    const redis = retryUntilClosed(options.redis, () => this.#closed);
    const { username, password, host, port, path } = redis;
    this.#secrets = secretForms(username ?? undefined, password ?? undefined);
    this.#server = path ?? `${host ?? 'localhost'}:${port ?? 6379}`;
    this.#name = queue;
    this.#events = new QueueEvents(queue, {
      connection: { ...redis, maxRetriesPerRequest: null } as ConnectionOptions,
      prefix,
    });
    this.#queue = new Queue(queue, {
      connection: { ...redis, enableOfflineQueue: false, maxRetriesPerRequest: 1 } as ConnectionOptions,
      prefix,
    });
    const named = (jobId: string): FleetMessageEvent => {
      const tenant = tenantOf(jobId);
      return tenant === undefined ? { id: messageIdOf(jobId) } : { id: messageIdOf(jobId), tenant };
    };
    this.#events.on('added', ({ jobId }) => this.emit('queued', named(jobId)));
    this.#events.on('active', ({ jobId }) => this.emit('sending', named(jobId)));
    this.#events.on('completed', ({ jobId }) => this.emit('sent', named(jobId)));
    this.#events.on('delayed', ({ jobId, delay }) => {
      this.emit('failed', { ...named(jobId), delayMs: Math.max(0, Number(delay) - Date.now()) });
    });
    this.#events.on('stalled', ({ jobId }) => this.emit('failed', { ...named(jobId), unknownOutcome: true }));
    this.#events.on('failed', ({ jobId, failedReason }) => {
      const cancelled = cancelledOf(String(failedReason));
      this.emit('cancelled', {
        ...named(jobId),
        reason: cancelled?.message ?? String(failedReason),
        ...(cancelled === undefined ? {} : { cause: cancelled.reason, attempts: cancelled.attempts }),
      });
    });
    const failure = (error: Error) => this.emit('error', this.#unavailable(error));
    this.#events.on('error', failure);
    this.#queue.on('error', failure);
  }

  /** Resolves once the events are being read (events before it are not seen). */
  async ready(): Promise<void> {
    await this.#events.waitUntilReady();
  }

  /**
   * The fleet-wide counts, read from Redis now.
   *
   * @throws FleetUnavailableError when Redis cannot be read
   */
  async counts(): Promise<FleetCounts> {
    try {
      const counts = await this.#queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      return {
        queued: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        waitingRetry: counts.delayed ?? 0,
        sending: counts.active ?? 0,
      };
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  /** Stops reading and closes the connections (within about 2 s, even when Redis is down). */
  async close(): Promise<void> {
    this.#closed = true;
    const closing = Promise.all([
      this.#events.close().catch(() => undefined),
      this.#queue.close().catch(() => undefined),
    ]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, 2000);
    });
    await Promise.race([closing, late]);
    clearTimeout(timer);
  }

  #unavailable(error: unknown): FleetUnavailableError {
    const cause = scrubForeign(error, this.#secrets);
    return new FleetUnavailableError(
      `Redis at ${this.#server} could not be read for the events of the fleet's outbox ${showValue(this.#name)}: ${showValue(cause.message, { quote: false })}. Check that Redis is running and that this server can reach it.`,
      { cause },
    );
  }
}
