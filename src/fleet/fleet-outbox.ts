/**
 * The fleet outbox: one BullMQ queue in Redis that every server's Mailer adds to and claims from. The Outbox seam
 * maps onto BullMQ's manual job processing:
 *
 * - `add`: `Queue.add` with the message id as the job id. Emergencies go on BullMQ's plain wait list, standard
 *   messages on its prioritized set (priority 1); BullMQ takes the wait list first, so an emergency handed to any
 *   server is claimed before every waiting standard message of the fleet.
 * - `claim`: `Worker.getNextJob` with a token of this server's; the claim (BullMQ's lock) is renewed while the
 *   attempt runs. A server that stops leaves its claims to BullMQ's stalled-job check, which puts them back; the
 *   next server to claim one counts the attempt that was cut off as failed, with an unknown outcome.
 * - `settle`: sent is `moveToCompleted`; a failure to retry is `moveToFailed` with attempts left, which BullMQ
 *   turns into a delayed job (the delay from the retry rule, through a backoff strategy of ours) and counts in
 *   `attemptsMade`; a cancellation is `moveToFailed` with an `UnrecoverableError`; an unstarted claim goes back
 *   with `moveToWait`.
 *
 * What this process keeps is only what answers the Mailer's synchronous questions: an estimate of how many
 * messages the fleet has ready (raised by adds and by a poll of Redis while idle, lowered by claims that came back
 * short), the claims in progress, and the retries scheduled here.
 */
import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { FleetUnavailableError, InvalidMessageError, OutboxUnavailableError } from '../errors.js';
import { SpoolCipher } from '../outbox/spool/cipher.js';
import type {
  LoadedMessages,
  Outbox,
  OutboxCounts,
  OutboxEntry,
  OutboxHost,
  OutboxMessage,
  RetryRule,
  Settlement,
} from '../outbox/types.js';
import { scrubForeign, secretForms } from '../secrets.js';
import { showValue } from '../truncate.js';
import { failureForJob, fromJob, JobDataError, jobData, toJobData, uncountedStalls } from './job-data.js';
import { jobIdOf, messageIdOf } from './job-id.js';
import type { ResolvedFleetOutboxOptions } from './outbox-options.js';
import { redisWarnings } from './redis-warnings.js';
import { RetryWatch, type WatchedRetry } from './retry-watch.js';

/** The name of the backoff strategy that gives BullMQ the retry delay of the Mailer's settings. */
const BACKOFF = 'messenger-email-retry';
/** Attempts as BullMQ counts them: never the limit (Max Errors Before Cancel is applied by the Mailer). */
const UNLIMITED_ATTEMPTS = 1_000_000_000;
/** How long adding a message may take before `send()` is told the fleet is unavailable. */
const ADD_TIMEOUT_MS = 2000;
/** How long `close()` waits for BullMQ's connections to close. */
const CLOSE_TIMEOUT_MS = 2000;
/** How long a message this server cannot open waits before another server is offered it. */
const FOREIGN_DELAY_MS = 5000;

const ignore = (): void => undefined;

/** A message claimed here: its job and the token of the claim. */
interface Claim {
  readonly job: Job;
  readonly token: string;
}

function within<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), ms);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A minimal entry for a job whose message cannot be read: enough to report it cancelled. */
function entryOfJob(job: Job): OutboxEntry {
  const data = jobData(job);
  const kind = data?.kind ?? 'standard';
  return {
    id: messageIdOf(job.id as string),
    kind,
    context: { kind, censusAddress: null, customSender: null },
    recipients: [],
    queuedAt: data?.queuedAt ?? job.timestamp,
    attempts: job.attemptsStarted,
    failures: job.attemptsMade,
  };
}

/** See the module description. */
export class FleetOutbox implements Outbox {
  readonly durable = true;
  readonly #options: ResolvedFleetOutboxOptions;
  readonly #cipher: SpoolCipher | undefined;
  readonly #secrets: string[];
  readonly #server: string;
  readonly #instance = randomUUID();
  #tokens = 0;
  #host: OutboxHost | undefined;
  #queue: Queue | undefined;
  #worker: Worker | undefined;
  #rule: RetryRule = { delayMs: 60_000, maxFailures: 10 };
  /** How many messages the fleet is believed to have ready. */
  #estimate = 0;
  readonly #claimed = new Map<string, Claim>();
  /** Scheduled retries given back by a lowered maximum, until the Mailer cancels them. */
  readonly #exhausted = new Map<string, Job>();
  /** The due time of each retry being scheduled, for the backoff strategy. */
  readonly #dueAt = new Map<string, number>();
  readonly #retries: RetryWatch;
  /** Promotions of retries due on the Mailer's clock, awaited before the next claim. */
  #promoting: Promise<unknown> = Promise.resolve();
  #poll: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #renewal: ReturnType<typeof setInterval> | undefined;
  #lastError: Error | undefined;
  #closed = false;

  /** @param options - checked options */
  constructor(options: ResolvedFleetOutboxOptions) {
    this.#options = options;
    this.#cipher = options.encryptionKey === undefined ? undefined : new SpoolCipher(options.encryptionKey);
    const { username, password, host, port, path } = options.redis;
    this.#secrets = secretForms(username ?? undefined, password ?? undefined);
    this.#server = path ?? `${host ?? 'localhost'}:${port ?? 6379}`;
    this.#retries = new RetryWatch(
      (entry) => (entry.failedAt ?? 0) + this.#rule.delayMs,
      (due) => this.#promote(due),
    );
  }

  bind(host: OutboxHost): void {
    if (this.#host !== undefined)
      throw new TypeError('This fleet outbox already serves a Mailer: make one per Mailer');
    this.#host = host;
    this.#retries.bind(host);
    const { redis, queue, prefix, lockMs } = this.#options;
    const queueConnection: RedisOptions = { ...redis, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    this.#queue = new Queue(queue, { connection: queueConnection as ConnectionOptions, prefix });
    this.#worker = new Worker(queue, null, {
      connection: { ...redis, maxRetriesPerRequest: null } as ConnectionOptions,
      prefix,
      autorun: false,
      lockDuration: lockMs,
      stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
      maxStalledCount: UNLIMITED_ATTEMPTS,
      skipLockRenewal: true,
      settings: { backoffStrategy: (_made, _type, _error, job) => this.#retryDelay(job) },
    });
    const remember = (error: Error): void => {
      this.#lastError = scrubForeign(error, this.#secrets);
    };
    this.#queue.on('error', remember);
    this.#worker.on('error', remember);
    void this.#worker.startStalledCheckTimer().catch(remember);
    this.#renewal = setInterval(() => this.#renewClaims(), Math.max(300, Math.floor(lockMs / 3)));
    this.#renewal.unref();
    this.#schedulePoll(0);
    void redisWarnings(redis, queue).then((warnings) => {
      for (const warning of warnings) this.#options.onWarning(warning);
    });
  }

  setRetryRule(rule: RetryRule): OutboxEntry[] {
    const delayChanged = rule.delayMs !== this.#rule.delayMs;
    this.#rule = rule;
    const over = this.#retries.removeWhere((retry) => retry.entry.failures >= rule.maxFailures);
    for (const { entry, job } of over) this.#exhausted.set(entry.id, job);
    if (delayChanged && this.#host !== undefined) {
      const now = this.#host.now();
      const moves = this.#retries.all().map(({ entry, job }) => {
        const delay = Math.max(0, (entry.failedAt ?? now) + rule.delayMs - now);
        return job.changeDelay(delay).catch(ignore); // already taken by BullMQ's own clock: nothing to move
      });
      void Promise.all(moves);
    }
    this.#retries.check();
    return over.map(({ entry }) => entry);
  }

  async add(message: OutboxMessage): Promise<void> {
    const queue = this.#ready();
    const data = await toJobData(message, this.#cipher);
    const jobId = jobIdOf(message.id);
    const stored = (async () => {
      if ((await queue.getJobState(jobId)) !== 'unknown') {
        throw new InvalidMessageError(
          `A message with id ${showValue(message.id)} is still pending in the fleet's outbox: give each message its own id`,
        );
      }
      await queue.add(message.kind, data, {
        jobId,
        ...(message.kind === 'emergency' ? {} : { priority: 1 }),
        attempts: UNLIMITED_ATTEMPTS,
        backoff: { type: BACKOFF },
        removeOnComplete: true,
        removeOnFail: true,
        stackTraceLimit: 1,
      });
    })();
    try {
      await within(stored, ADD_TIMEOUT_MS, () =>
        this.#unavailable('did not answer in time', 'store the message'),
      );
    } catch (error) {
      if (error instanceof InvalidMessageError || error instanceof FleetUnavailableError) throw error;
      throw this.#unavailable(error, 'store the message');
    }
    this.#estimate += 1;
  }

  ready(): number {
    return this.#estimate;
  }

  async claim(max: number): Promise<OutboxMessage[]> {
    const worker = this.#worker;
    if (worker === undefined || this.#closed || max <= 0) return [];
    await this.#promoting;
    const tokens = Array.from({ length: max }, () => this.#nextToken());
    const fetched = await Promise.allSettled(
      tokens.map((token) => worker.getNextJob(token, { block: false })),
    );
    const jobs: Claim[] = [];
    let failure: unknown;
    fetched.forEach((result, i) => {
      if (result.status === 'rejected') failure = result.reason;
      else if (result.value !== undefined)
        jobs.push({ job: result.value as Job, token: tokens[i] as string });
    });
    if (jobs.length === 0 && failure !== undefined) throw this.#unavailable(failure, 'claim messages');
    this.#estimate = jobs.length < max ? 0 : Math.max(0, this.#estimate - jobs.length);
    const messages: OutboxMessage[] = [];
    const unreadable: Claim[] = [];
    for (const claim of jobs) {
      let message: OutboxMessage;
      try {
        message = fromJob(claim.job, this.#cipher);
      } catch (error) {
        if (error instanceof JobDataError) {
          await this.#unreadable(claim, error);
          if (error.keyProblem) unreadable.push(claim);
          continue;
        }
        throw error;
      }
      if (uncountedStalls(claim.job) > 0) {
        await this.#recover(claim, message);
        continue;
      }
      this.#claimed.set(message.id, claim);
      messages.push(message);
    }
    if (unreadable.length > 0 && messages.length === 0) {
      throw new OutboxUnavailableError(
        `This server cannot open ${unreadable.length} message(s) of the fleet's outbox (${showValue(this.#options.queue)}): give every server the same encryptionKey and the same version of messenger-email. They stay in Redis for the servers that can.`,
      );
    }
    return messages;
  }

  async settle(message: OutboxEntry, outcome: Settlement): Promise<void> {
    const exhausted = this.#exhausted.get(message.id);
    if (exhausted !== undefined) {
      this.#exhausted.delete(message.id);
      if (outcome.state === 'cancelled') await this.#do(exhausted.remove(), 'remove a cancelled message');
      return;
    }
    const claim = this.#claimed.get(message.id);
    if (claim === undefined) return;
    this.#claimed.delete(message.id);
    const { job, token } = claim;
    switch (outcome.state) {
      case 'sent':
        await this.#do(job.moveToCompleted('sent', token, false), 'record a message sent');
        return;
      case 'cancelled': {
        const reason = message.lastError?.message ?? 'cancelled';
        await this.#do(
          job.moveToFailed(new UnrecoverableError(reason), token, false),
          'record a cancellation',
        );
        return;
      }
      case 'waiting':
        await this.#retryLater(claim, message, message.lastError ?? new Error('failed'));
        return;
      case 'unstarted':
        await this.#giveBack(claim, 0);
        this.#estimate += 1;
        return;
    }
  }

  counts(): OutboxCounts {
    return { queued: this.#estimate, waitingRetry: this.#retries.size, sending: this.#claimed.size };
  }

  async load(): Promise<LoadedMessages> {
    // A fleet's messages stay in Redis and are claimed where they are; attempts cut off by a server that stopped
    // are found when the message is claimed again.
    return { messages: [], quarantined: [] };
  }

  drain(): OutboxMessage[] {
    return [];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#retries.stop();
    if (this.#poll !== undefined) clearTimeout(this.#poll);
    if (this.#renewal !== undefined) clearInterval(this.#renewal);
    const closing = Promise.all([
      this.#worker?.close(true).catch(ignore),
      this.#queue?.close().catch(ignore),
    ]);
    await within(closing, CLOSE_TIMEOUT_MS, () => new Error('close timed out')).catch(() => {
      void this.#worker?.disconnect().catch(ignore);
      void this.#queue?.disconnect().catch(ignore);
    });
  }

  #nextToken(): string {
    this.#tokens += 1;
    return `${this.#instance}:${this.#tokens}`;
  }

  #ready(): Queue {
    if (this.#queue === undefined) throw new TypeError('The fleet outbox is not bound to a Mailer');
    if (this.#closed) throw new OutboxUnavailableError('The fleet outbox is closed');
    return this.#queue;
  }

  /** The delay BullMQ gives a failed job: until its due time on the Mailer's clock. */
  #retryDelay(job: { id?: string } | undefined): number {
    const id = job?.id === undefined ? undefined : messageIdOf(job.id);
    const due = id === undefined ? undefined : this.#dueAt.get(id);
    const now = this.#host?.now() ?? Date.now();
    return Math.max(1, (due ?? now + this.#rule.delayMs) - now);
  }

  /** Moves a failed message to BullMQ's delayed set, its failure counted there, and watches it. */
  async #retryLater(claim: Claim, entry: OutboxEntry, error: Error): Promise<void> {
    const now = this.#host?.now() ?? Date.now();
    const failedAt = entry.failedAt ?? now;
    this.#dueAt.set(entry.id, failedAt + this.#rule.delayMs);
    try {
      await this.#do(claim.job.moveToFailed(failureForJob(error), claim.token, false), 'record a failure');
    } finally {
      this.#dueAt.delete(entry.id);
    }
    this.#retries.add({ entry: { ...entry, failedAt }, job: claim.job });
  }

  /** Gives a claim back without a start: its start is subtracted from BullMQ's count. */
  async #giveBack(claim: Claim, delayMs: number, stalls?: number): Promise<void> {
    const { job, token } = claim;
    const data = jobData(job);
    if (data !== undefined) {
      const unstarted = (data.unstarted ?? 0) + 1;
      const updated = { ...data, unstarted, ...(stalls === undefined ? {} : { stalls }) };
      await this.#do(job.updateData(updated), 'give a message back');
      job.data = updated;
    }
    if (delayMs > 0) await this.#do(job.moveToDelayed(Date.now() + delayMs, token), 'give a message back');
    else await this.#do(job.moveToWait(token), 'give a message back');
  }

  /**
   * A claimed message whose last attempt was cut off (its server stopped): that attempt counts as failed with an
   * unknown outcome, the Mailer reports it, and the message waits the retry delay (or is cancelled when its
   * failures reached the maximum).
   */
  async #recover(claim: Claim, message: OutboxMessage): Promise<void> {
    const host = this.#host as OutboxHost;
    const { job } = claim;
    const error = new Error(
      'The attempt was cut off: the server that started it stopped or lost Redis before it ended, and the relay may have accepted the message',
    );
    const data = jobData(job);
    const updated = { ...data, unstarted: (data?.unstarted ?? 0) + 1, stalls: job.stalledCounter };
    await this.#do(job.updateData(updated), 'count an attempt cut off');
    job.data = updated;
    message.attempts -= 1; // this claim only counts the cut-off attempt
    message.failures += 1;
    message.failedAt = host.now();
    message.lastError = error;
    const exhausted = message.failures >= this.#rule.maxFailures;
    if (exhausted) {
      this.#claimed.set(message.id, claim); // held for the Mailer to cancel
    } else {
      this.#dueAt.set(message.id, message.failedAt + this.#rule.delayMs);
      try {
        await this.#do(
          job.moveToFailed(failureForJob(error), claim.token, false),
          'count an attempt cut off',
        );
      } finally {
        this.#dueAt.delete(message.id);
      }
      this.#retries.add({ entry: message, job });
    }
    host.recovered([{ message, exhausted }]);
  }

  /** A job this server cannot read: left for a server with the right key, or given up when it is no message. */
  async #unreadable(claim: Claim, error: JobDataError): Promise<void> {
    if (error.keyProblem) {
      await this.#giveBack(claim, FOREIGN_DELAY_MS);
      return;
    }
    const entry = entryOfJob(claim.job);
    await this.#do(
      claim.job.moveToFailed(new UnrecoverableError(error.message), claim.token, false),
      'give up',
    );
    this.#host?.dropped(
      [entry],
      new OutboxUnavailableError(
        `Message ${showValue(entry.id)} in the fleet's outbox cannot be used (${error.message}): it was removed`,
      ),
    );
  }

  /** Retries due on the Mailer's clock: made claimable now (BullMQ would on its own wall clock). */
  #promote(due: WatchedRetry[]): void {
    this.#estimate += due.length;
    const promoted = Promise.all(due.map(({ job }) => job.promote().catch(ignore)));
    this.#promoting = Promise.all([this.#promoting, promoted]);
    this.#host?.wake();
  }

  #renewClaims(): void {
    for (const { job, token } of this.#claimed.values()) {
      job.extendLock(token, this.#options.lockMs).catch((error: unknown) => {
        this.#lastError = scrubForeign(error, this.#secrets);
      });
    }
  }

  #schedulePoll(ms: number): void {
    if (this.#closed) return;
    this.#poll = setTimeout(() => void this.#pollOnce(), ms);
    this.#poll.unref();
  }

  /** While nothing is believed ready: asks Redis whether the fleet has work (new, or retries come due). */
  async #pollOnce(): Promise<void> {
    const queue = this.#queue;
    if (queue === undefined || this.#closed || this.#polling) return;
    this.#polling = true;
    try {
      if (this.#estimate === 0) {
        const [counts, due] = await Promise.all([
          queue.getJobCounts('waiting', 'prioritized'),
          queue.getDelayedCount(Date.now() + 1),
        ]);
        const ready = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + due;
        if (ready > 0 && this.#estimate === 0 && !this.#closed) {
          this.#estimate = ready;
          this.#host?.wake();
        }
      }
    } catch (error) {
      this.#lastError = scrubForeign(error, this.#secrets);
    } finally {
      this.#polling = false;
      this.#schedulePoll(this.#options.pollMs);
    }
  }

  async #do<T>(work: Promise<T>, what: string): Promise<T> {
    try {
      return await work;
    } catch (error) {
      throw this.#unavailable(error, what);
    }
  }

  #unavailable(error: unknown, what: string): FleetUnavailableError {
    if (error instanceof FleetUnavailableError) return error;
    const cause = scrubForeign(typeof error === 'string' ? new Error(error) : error, this.#secrets);
    const last = this.#lastError === undefined ? '' : ` (last connection error: ${this.#lastError.message})`;
    return new FleetUnavailableError(
      `Redis at ${this.#server} could not ${what} in the fleet's outbox ${showValue(this.#options.queue)}: ${showValue(cause.message, { quote: false })}${last}. Check that Redis is running and that this server can reach it; nothing accepted is lost.`,
      { cause },
    );
  }
}
