/**
 * Hands messages to BullMQ in batches: the messages handed over while a batch is on its way to Redis go together
 * in the next (one `Queue.addBulk`: a pipeline of BullMQ's own add scripts), as a mail server's queue commits what
 * arrived together. A burst of `enqueue()` calls then costs a few round trips instead of two per message, and the
 * time limit measures Redis's answer to a batch, not the wait behind the burst.
 *
 * BullMQ ignores an add whose job id exists, without a word; so the ids a caller chose are first looked up (in one
 * pipeline of `getJobState`) and a message whose id is still pending is refused. Ids the Mailer generated are
 * unique and are not looked up.
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
  /** Look for a pending message with this id first (not needed for an id the Mailer generated). */
  readonly lookUp: boolean;
}

interface Waiting extends JobToAdd {
  resolve(): void;
  reject(error: unknown): void;
}

/** The most messages in one batch. */
const MAX_BATCH = 500;
/** The most hand-overs waiting for their batch: more are refused at once (Redis is not keeping up). */
export const MAX_WAITING = 20_000;

/** A batch given up for lateness: it must not be added after its callers were told it was not. */
class Abandoned extends Error {}

/** Adds messages to a queue in batches. */
export class AddBatcher {
  readonly #queue: Queue;
  readonly #timeoutMs: number;
  readonly #late: () => Error;
  #waiting: Waiting[] = [];
  #flushing = false;

  /**
   * @param queue - BullMQ's queue
   * @param timeoutMs - how long Redis may take to store one batch
   * @param late - the error of a batch that took longer (its messages were not added, or may have been)
   */
  constructor(queue: Queue, timeoutMs: number, late: () => Error) {
    this.#queue = queue;
    this.#timeoutMs = timeoutMs;
    this.#late = late;
  }

  /** Hand-overs waiting for their batch. */
  get waiting(): number {
    return this.#waiting.length;
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
      const late = await this.#bounded(batch);
      // the hand-overs behind a batch Redis did not answer would wait as long: they are refused with it
      if (late !== undefined) for (const job of this.#waiting.splice(0)) job.reject(late);
    }
    this.#flushing = false;
  }

  /** Stores a batch within the time limit; returns the error when Redis did not answer in time. */
  async #bounded(batch: Waiting[]): Promise<Error | undefined> {
    const state = { abandoned: false };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(this.#late()), this.#timeoutMs);
      timer.unref();
    });
    const stored = this.#store(batch, state).then(
      () => undefined,
      (error: unknown) => {
        for (const job of batch) job.reject(error);
        return undefined;
      },
    );
    const outcome = await Promise.race([stored, late]);
    clearTimeout(timer);
    if (outcome === undefined) return undefined;
    state.abandoned = true; // if it has not reached addBulk yet, it never will
    for (const job of batch) job.reject(outcome);
    return outcome;
  }

  async #store(batch: Waiting[], state: { abandoned: boolean }): Promise<void> {
    const states = await Promise.all(
      batch.map((job) => (job.lookUp ? this.#queue.getJobState(job.opts.jobId) : 'unknown')),
    );
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
    if (state.abandoned) throw new Abandoned();
    try {
      await this.#queue.addBulk(fresh.map(({ name, data, opts }) => ({ name, data, opts })));
    } catch (error) {
      // BullMQ sends the adds as a pipeline and stops at the first error: some may be stored, so look again
      const after = await Promise.all(fresh.map((job) => this.#queue.getJobState(job.opts.jobId))).catch(
        () => undefined,
      );
      fresh.forEach((job, i) => {
        if (after !== undefined && after[i] !== 'unknown') job.resolve();
        else job.reject(error);
      });
      return;
    }
    for (const job of fresh) job.resolve();
  }
}
