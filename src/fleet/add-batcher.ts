/**
 * Hands messages to BullMQ in batches: the messages handed over while a batch is on its way to Redis go together
 * in the next (one `Queue.addBulk`, a MULTI of BullMQ's own add scripts), as a mail server's queue commits what
 * arrived together. A burst of `enqueue()` calls then costs a few round trips instead of two per message, and the
 * time limit measures Redis's answer to a batch, not the wait behind the burst.
 *
 * BullMQ ignores an add whose job id exists, without a word; so the ids of a batch are first looked up (in one
 * pipeline of `getJobState`) and a message whose id is still pending is refused.
 */
import type { JobsOptions, Queue } from 'bullmq';
import { InvalidMessageError } from '../errors.js';
import { showValue } from '../truncate.js';
import type { FleetJobData } from './job-data.js';

/** One message to add. */
export interface JobToAdd {
  /** The message id (for messages). */
  readonly id: string;
  readonly name: string;
  readonly data: FleetJobData;
  readonly opts: JobsOptions & { jobId: string };
}

interface Waiting extends JobToAdd {
  resolve(): void;
  reject(error: unknown): void;
}

/** The most messages in one batch. */
const MAX_BATCH = 500;

/** Adds messages to a queue in batches. */
export class AddBatcher {
  readonly #queue: Queue;
  readonly #within: <T>(work: Promise<T>) => Promise<T>;
  #waiting: Waiting[] = [];
  #flushing = false;

  /**
   * @param queue - BullMQ's queue
   * @param within - bounds one batch's Redis work in time (rejects when Redis does not answer)
   */
  constructor(queue: Queue, within: <T>(work: Promise<T>) => Promise<T>) {
    this.#queue = queue;
    this.#within = within;
  }

  /**
   * Adds one message with the next batch; resolves once Redis stored it.
   *
   * @throws InvalidMessageError when a message with its id is still pending; what `within` rejects with
   */
  add(job: JobToAdd): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ ...job, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        queueMicrotask(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, MAX_BATCH);
      try {
        await this.#within(this.#store(batch));
      } catch (error) {
        for (const job of batch) job.reject(error);
      }
    }
    this.#flushing = false;
  }

  async #store(batch: Waiting[]): Promise<void> {
    const states = await Promise.all(batch.map((job) => this.#queue.getJobState(job.opts.jobId)));
    const fresh: Waiting[] = [];
    const seen = new Set<string>();
    batch.forEach((job, i) => {
      if (states[i] !== 'unknown' || seen.has(job.opts.jobId)) {
        job.reject(
          new InvalidMessageError(
            `A message with id ${showValue(job.id)} is still pending in the fleet's outbox: give each message its own id`,
          ),
        );
      } else {
        seen.add(job.opts.jobId);
        fresh.push(job);
      }
    });
    if (fresh.length === 0) return;
    await this.#queue.addBulk(fresh.map(({ name, data, opts }) => ({ name, data, opts })));
    for (const job of fresh) job.resolve();
  }
}
