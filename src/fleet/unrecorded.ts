/**
 * Final outcomes a server could not record in Redis at once: a message delivered (or given up) while Redis was
 * unreachable or slow. Until it is recorded, the job is still BullMQ's active job under this server's claim, and a
 * claim that lapses (an outage longer than the lease) would make another server take the message back as cut
 * off, and send it again. So each is tried again every second: first the move BullMQ would have made (completed,
 * or failed for good), and when the claim is already lost, a mark in the job's data (`settled`, with the report
 * or the failure text) that the next server to claim it honours: it finishes the job instead of sending it.
 */
import { type Job, UnrecoverableError } from 'bullmq';
import { type FleetJobData, jobData } from './job-data.js';

/** An outcome after which the message leaves the fleet's outbox. */
export type FinalState = 'sent' | 'cancelled';

interface Unrecorded {
  readonly job: Job;
  readonly token: string;
  readonly state: FinalState;
  /** The return value of a message sent, or the failure text of a message given up. */
  readonly detail: unknown;
}

/**
 * Moves a claimed job to its final state, as a settlement does.
 *
 * @param detail - for `'sent'` the return value (the delivery report), for `'cancelled'` the failure text
 */
export function finishJob(job: Job, token: string, state: FinalState, detail: unknown): Promise<unknown> {
  return state === 'sent'
    ? job.moveToCompleted(detail ?? 'sent', token, false)
    : job.moveToFailed(new UnrecoverableError(String(detail)), token, false);
}

/** The outcome marked in a job's data by a server that could not record it, with its detail, if any. */
export function markedOutcome(job: Job): { state: FinalState; detail: unknown } | undefined {
  const data = jobData(job);
  return data?.settled === undefined ? undefined : { state: data.settled, detail: data.settledDetail };
}

async function record(item: Unrecorded): Promise<boolean> {
  const { job, token, state, detail } = item;
  try {
    await finishJob(job, token, state, detail);
    return true;
  } catch {
    // the claim is lost (or the job is gone): mark it below
  }
  const data = jobData(job);
  if (data === undefined) return true;
  const marked: FleetJobData = { ...data, settled: state, settledDetail: detail };
  try {
    await job.updateData(marked);
  } catch (error) {
    return /Missing key/i.test(String((error as Error)?.message)); // gone already: nothing left to do
  }
  job.data = marked;
  // Left in the queue: the next server to claim it finishes it with this detail, so that the server that
  // accepted it hears the outcome through BullMQ's events (a removal would tell it nothing).
  return true;
}

/** The outcomes still to record, tried again on a timer. */
export class UnrecordedOutcomes {
  readonly #items = new Map<string, Unrecorded>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #round: Promise<void> | undefined;

  /** How many wait to be recorded. */
  get size(): number {
    return this.#items.size;
  }

  /** Whether the message `id` has an outcome waiting to be recorded here. */
  has(id: string): boolean {
    return this.#items.has(id);
  }

  /** The claims of the outcomes not yet recorded: renewed meanwhile, so that no other server takes them. */
  claims(): { job: Job; token: string }[] {
    return [...this.#items.values()];
  }

  /** Keeps an outcome to record, and tries again every `intervalMs` until it is. */
  add(id: string, job: Job, token: string, state: FinalState, detail: unknown, intervalMs: number): void {
    this.#items.set(id, { job, token, state, detail });
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.retry(), intervalMs);
    this.#timer.unref();
  }

  /** One round: tries each again (one round at a time); resolves when the round is over. */
  retry(): Promise<void> {
    this.#round ??= (async () => {
      for (const [id, item] of [...this.#items]) {
        if (await record(item)) this.#items.delete(id);
      }
      if (this.#items.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    })().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  /** Stops the timer; what is left unrecorded is left to the lease (another server may send it again). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
