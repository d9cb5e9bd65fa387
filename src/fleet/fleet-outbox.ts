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
import { type Job, type Queue, UnrecoverableError, type Worker } from 'bullmq';
import { FleetUnavailableError, InvalidMessageError, OutboxUnavailableError } from '../errors.js';
import { SpoolCipher } from '../outbox/spool/cipher.js';
import type {
  AddOptions,
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
import { type AddBatcher, MAX_WAITING } from './add-batcher.js';
import {
  ADD_TIMEOUT_MS,
  openQueue,
  openWorker,
  readyInQueue,
  UNLIMITED_ATTEMPTS,
  unavailableError,
} from './bullmq-handles.js';
import { giveBackJob } from './give-back.js';
import {
  type FleetJobData,
  failureForJob,
  fromJob,
  JobDataError,
  jobData,
  toJobData,
  uncountedStalls,
} from './job-data.js';
import { jobIdOf, messageIdOf } from './job-id.js';
import type { ResolvedFleetOutboxOptions } from './outbox-options.js';
import { cancelledText, sentValue } from './outcome-codec.js';
import { OutcomeFollower } from './outcome-follower.js';
import { redisWarnings } from './redis-warnings.js';
import { retryUntilClosed } from './retry-until-closed.js';
import { RetryWatch, type WatchedRetry } from './retry-watch.js';
import type { Claim, TenantLink } from './tenant-link.js';
import { type FinalState, finishJob, markedOutcome, UnrecordedOutcomes } from './unrecorded.js';

/** The name of the backoff strategy that gives BullMQ the retry delay of the Mailer's settings. */
const BACKOFF = 'messenger-email-retry';
/** How long `close()` waits for claims and settlements on their way, then for BullMQ's connections to close. */
const CLOSE_TIMEOUT_MS = 2000;
/** How long a settlement may wait for Redis before the Mailer is told (the outcome is then recorded later). */
const SETTLE_TIMEOUT_MS = 5000;
/** How often outcomes not yet recorded are tried again. */
const RECORD_RETRY_MS = 1000;
/** How long a message taken back from a server that stopped answering waits for that server to mark its outcome. */
export const GRACE_MS = 3 * RECORD_RETRY_MS;
/** How long a message this server cannot open waits before another server is offered it. */
const FOREIGN_DELAY_MS = 5000;

const ignore = (): void => undefined;

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
  /** The district's link to a queue shared by many districts; none for a Mailer's own queue. */
  readonly #link: TenantLink | undefined;
  #tokens = 0;
  #host: OutboxHost | undefined;
  #queue: Queue | undefined;
  #batcher: AddBatcher | undefined;
  #worker: Worker | undefined;
  #rule: RetryRule = { delayMs: 60_000, maxFailures: 10 };
  /** How many messages the fleet is believed to have ready. */
  #estimate = 0;
  readonly #claimed = new Map<string, Claim>();
  /** Scheduled retries given back by a lowered maximum, until the Mailer cancels them. */
  readonly #exhausted = new Map<string, Job>();
  /** The due time of each retry being scheduled, by job id, for the backoff strategy. */
  readonly #dueAt: Map<string, number>;
  readonly #retries: RetryWatch;
  /** Promotions of retries due on the Mailer's clock, awaited before the next claim. */
  #promoting: Promise<unknown> = Promise.resolve();
  #poll: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #renewal: ReturnType<typeof setInterval> | undefined;
  #lastError: Error | undefined;
  #closed = false;
  /** Claims and settlements on their way to Redis, for `close()` to wait for. */
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #unrecorded = new UnrecordedOutcomes();
  readonly #follower: OutcomeFollower;

  /**
   * @param resolved - checked options
   * @param link - for one district of many: the queue they share (its handles, claims and fair order)
   */
  constructor(resolved: ResolvedFleetOutboxOptions, link?: TenantLink) {
    const options = { ...resolved, redis: retryUntilClosed(resolved.redis, () => this.#closed) };
    this.#link = link;
    this.#dueAt = link?.dueAt ?? new Map();
    this.#options = options;
    this.#cipher = options.encryptionKey === undefined ? undefined : new SpoolCipher(options.encryptionKey);
    const { username, password, host, port, path } = options.redis;
    this.#secrets = secretForms(username ?? undefined, password ?? undefined);
    this.#server = path ?? `${host ?? 'localhost'}:${port ?? 6379}`;
    this.#follower =
      link?.follower ??
      new OutcomeFollower(options, this.#cipher, (jobId, outcome) =>
        this.#host?.finishedElsewhere(messageIdOf(jobId), outcome),
      );
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
    const { redis, queue, lockMs } = this.#options;
    this.#renewal = setInterval(() => this.#renewClaims(), Math.max(300, Math.floor(lockMs / 3)));
    this.#renewal.unref();
    const link = this.#link;
    if (link !== undefined) {
      // the process's one queue and worker serve every district; the group's claims come through the link
      this.#queue = link.queue;
      this.#batcher = link.batcher;
      this.#worker = link.worker;
      link.attach(host);
      return;
    }
    const opened = openQueue(this.#options, () =>
      this.#unavailable(
        `did not answer within ${ADD_TIMEOUT_MS / 1000} s (the message may still be stored and sent: hand it over again with the same id, which is refused while it is pending)`,
        'confirm the message',
      ),
    );
    this.#queue = opened.queue;
    this.#batcher = opened.batcher;
    this.#worker = openWorker(this.#options, (job) => this.#retryDelay(job));
    const remember = (error: Error): void => {
      this.#lastError = scrubForeign(error, this.#secrets);
    };
    this.#queue.on('error', remember);
    this.#worker.on('error', remember);
    void this.#worker.startStalledCheckTimer().catch(remember);
    this.#schedulePoll(0);
    void redisWarnings(redis, queue).then((warnings) => {
      for (const warning of warnings) {
        try {
          this.#options.onWarning(warning);
        } catch {
          // a warning handler that fails must not stop the outbox
        }
      }
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

  async add(message: OutboxMessage, options: AddOptions = {}): Promise<void> {
    const batcher = this.#batcher;
    if (batcher === undefined || this.#closed) this.#ready();
    if ((batcher as AddBatcher).waiting >= MAX_WAITING) {
      throw this.#unavailable(`${MAX_WAITING} hand-overs already wait for Redis`, 'take the message');
    }
    const link = this.#link;
    const data = await toJobData(message, this.#cipher, link?.tenant);
    const priority = message.kind === 'emergency' ? undefined : await this.#priority(link);
    if (options.awaited === true) await this.#follower.ready().catch(ignore); // read outcomes from before the add
    try {
      await (batcher as AddBatcher).add({
        id: message.id,
        name: message.kind,
        data,
        lookUp: options.generatedId !== true,
        opts: {
          jobId: this.#jobId(message.id),
          ...(priority === undefined ? {} : { priority }),
          attempts: UNLIMITED_ATTEMPTS,
          backoff: { type: BACKOFF },
          removeOnComplete: true,
          removeOnFail: true,
          stackTraceLimit: 1,
        },
      });
    } catch (error) {
      if (error instanceof InvalidMessageError || error instanceof FleetUnavailableError) throw error;
      throw this.#unavailable(error, 'store the message');
    }
    this.#added(1);
    if (options.awaited === true) this.#follower.track(this.#jobId(message.id));
  }

  ready(): number {
    return this.#link?.buffered() ?? this.#estimate;
  }

  claim(max: number): Promise<OutboxMessage[]> {
    return this.#track(this.#claim(max));
  }

  async #claim(max: number): Promise<OutboxMessage[]> {
    const worker = this.#worker;
    if (worker === undefined || this.#closed || max <= 0) return [];
    await this.#promoting;
    const jobs = this.#link?.take(max) ?? (await this.#claimOwn(worker, max));
    if (this.#closed) {
      // closed while the claim was on its way: nothing starts, so each goes back as it was
      await Promise.all(jobs.map((claim) => this.#giveBack(claim, 0).catch(ignore)));
      return [];
    }
    const messages: OutboxMessage[] = [];
    let unreadable = 0;
    let trouble: unknown;
    for (const claim of jobs) {
      try {
        const message = await this.#take(claim);
        if (message === 'unreadable') unreadable += 1;
        else if (message !== undefined) messages.push(message);
      } catch (error) {
        trouble = error; // this one stays claimed until its lease runs out; the others go on
      }
    }
    if (messages.length === 0 && unreadable > 0) {
      throw new OutboxUnavailableError(
        `This server cannot open ${unreadable} message(s) of the fleet's outbox (${showValue(this.#options.queue)}): give every server the same encryptionKey and the same version of messenger-email. They stay in Redis for the servers that can.`,
      );
    }
    if (messages.length === 0 && trouble !== undefined) throw this.#unavailable(trouble, 'claim messages');
    return messages;
  }

  /** Claims up to `max` jobs from BullMQ for this Mailer's own queue. */
  async #claimOwn(worker: Worker, max: number): Promise<Claim[]> {
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
    return jobs;
  }

  /**
   * One claimed job: the message to hand over, or undefined when it was dealt with here (an outcome marked by a
   * server that could not record it, an attempt cut off, a job that is no message), or `'unreadable'` when it was
   * left for a server with the right key.
   */
  async #take(claim: Claim): Promise<OutboxMessage | 'unreadable' | undefined> {
    const marked = markedOutcome(claim.job);
    if (marked !== undefined) {
      const { state, detail } = marked;
      await this.#do(finishJob(claim.job, claim.token, state, detail), 'finish a message already settled');
      return undefined;
    }
    let message: OutboxMessage;
    try {
      message = fromJob(claim.job, this.#cipher);
    } catch (error) {
      if (!(error instanceof JobDataError)) throw error;
      await this.#unreadable(claim, error);
      return error.keyProblem ? 'unreadable' : undefined;
    }
    if (uncountedStalls(claim.job) > 0) {
      const { stalledCounter } = claim.job;
      if (jobData(claim.job)?.graced !== stalledCounter) {
        // Its server may be alive and only have lost Redis for longer than the lease, with the message delivered:
        // it is given time to mark the outcome before the attempt is counted as cut off and tried again.
        await this.#giveBack(claim, GRACE_MS, { graced: stalledCounter });
        return undefined;
      }
      await this.#recover(claim, message);
      return undefined;
    }
    this.#claimed.set(message.id, claim);
    return message;
  }

  settle(message: OutboxEntry, outcome: Settlement): Promise<void> {
    return this.#track(this.#settle(message, outcome));
  }

  async #settle(message: OutboxEntry, outcome: Settlement): Promise<void> {
    const exhausted = this.#exhausted.get(message.id);
    if (exhausted !== undefined) {
      this.#exhausted.delete(message.id);
      this.#follower.forget(this.#jobId(message.id));
      if (outcome.state === 'cancelled') await this.#do(exhausted.remove(), 'remove a cancelled message');
      return;
    }
    const claim = this.#claimed.get(message.id);
    if (claim === undefined) return;
    try {
      switch (outcome.state) {
        case 'sent':
        case 'cancelled':
          await this.#finish(claim, message, outcome);
          return;
        case 'waiting':
          await this.#retryLater(claim, message, message.lastError ?? new Error('failed'));
          return;
        case 'unstarted':
          await this.#giveBack(claim, 0);
          this.#added(1);
          return;
      }
    } finally {
      // renewed until here: a claim given up while its record is on its way could be taken by another server
      if (this.#claimed.get(message.id) === claim) this.#claimed.delete(message.id);
    }
  }

  /**
   * Records a final outcome, within {@link SETTLE_TIMEOUT_MS}; when Redis does not take it in time, it is kept and
   * recorded later (the Mailer is told), so that the message is not taken for an attempt cut off and sent again.
   */
  async #finish(claim: Claim, message: OutboxEntry, outcome: Settlement): Promise<void> {
    const state = outcome.state as FinalState;
    this.#follower.forget(this.#jobId(message.id));
    const detail =
      state === 'sent'
        ? outcome.report === undefined
          ? 'sent'
          : sentValue(outcome.report, this.#cipher)
        : cancelledText(
            outcome.reason ?? 'permanent',
            message.attempts,
            message.lastError?.message ?? 'cancelled',
          );
    const finished = finishJob(claim.job, claim.token, state, detail);
    try {
      await within(
        finished,
        SETTLE_TIMEOUT_MS,
        () => new Error(`Redis did not answer within ${SETTLE_TIMEOUT_MS / 1000} s`),
      );
    } catch (error) {
      void finished.catch(ignore);
      this.#unrecorded.add(message.id, claim.job, claim.token, state, detail, RECORD_RETRY_MS);
      const what = state === 'sent' ? 'record a message sent' : 'record a cancellation';
      throw this.#unavailable(error, `${what} (it is tried again every second)`);
    }
  }

  counts(): OutboxCounts {
    return { queued: this.ready(), waitingRetry: this.#retries.size, sending: this.#claimed.size };
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
    // claims and settlements on their way finish first (a claim cut off here would count as an attempt cut off)
    const settling = Promise.allSettled([...this.#inFlight]).then(() => this.#unrecorded.retry());
    await within(settling, CLOSE_TIMEOUT_MS, () => new Error('late')).catch(ignore);
    this.#unrecorded.stop();
    if (this.#renewal !== undefined) clearInterval(this.#renewal);
    if (this.#link !== undefined) {
      // the shared handles stay open for the other districts; claims still waiting for this one go back
      await this.#link.detach();
      return;
    }
    const closing = Promise.all([
      this.#worker?.close(true).catch(ignore),
      this.#queue?.close().catch(ignore),
      this.#follower.close(),
    ]);
    await within(closing, CLOSE_TIMEOUT_MS, () => new Error('late')).catch(ignore);
    // a client BullMQ could not quit (Redis down) would go on reconnecting and keep the process alive
    const dropping = Promise.all([
      this.#worker?.disconnect().catch(ignore),
      this.#queue?.disconnect().catch(ignore),
    ]);
    await within(dropping, CLOSE_TIMEOUT_MS, () => new Error('late')).catch(ignore);
  }

  /** Tracks an operation on its way to Redis until it settles. */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const forget = (): void => {
      this.#inFlight.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  /** The BullMQ priority of a standard message: 1, or its district's place in the fair order of a shared queue. */
  async #priority(link: TenantLink | undefined): Promise<number> {
    if (link === undefined) return 1;
    try {
      return await within(
        link.priority(),
        ADD_TIMEOUT_MS,
        () => new Error(`Redis did not answer within ${ADD_TIMEOUT_MS / 1000} s`),
      );
    } catch (error) {
      if (error instanceof TypeError) throw error; // the district's share is not valid
      throw this.#unavailable(error, "place the message in the districts' fair order");
    }
  }

  /** The job id of one of this outbox's messages. */
  #jobId(id: string): string {
    return jobIdOf(id, this.#link?.tenant);
  }

  /** More messages are ready in the queue: this server's estimate, or the shared queue's claims, go on. */
  #added(n: number): void {
    if (this.#link === undefined) this.#estimate += n;
    else this.#link.added(n);
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
    const due = job?.id === undefined ? undefined : this.#dueAt.get(job.id);
    const now = this.#host?.now() ?? Date.now();
    return Math.max(1, (due ?? now + this.#rule.delayMs) - now);
  }

  /** Moves a failed message to BullMQ's delayed set, its failure counted there, and watches it. */
  async #retryLater(claim: Claim, entry: OutboxEntry, error: Error): Promise<void> {
    const now = this.#host?.now() ?? Date.now();
    const failedAt = entry.failedAt ?? now;
    const jobId = this.#jobId(entry.id);
    this.#dueAt.set(jobId, failedAt + this.#rule.delayMs);
    try {
      await this.#do(claim.job.moveToFailed(failureForJob(error), claim.token, false), 'record a failure');
    } finally {
      this.#dueAt.delete(jobId);
    }
    this.#retries.add({ entry: { ...entry, failedAt }, job: claim.job });
  }

  /** Gives a claim back without a start: its start is subtracted from BullMQ's count. */
  async #giveBack(claim: Claim, delayMs: number, patch: Partial<FleetJobData> = {}): Promise<void> {
    await this.#do(giveBackJob(claim, delayMs, patch), 'give a message back');
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
      this.#dueAt.set(this.#jobId(message.id), message.failedAt + this.#rule.delayMs);
      try {
        await this.#do(
          job.moveToFailed(failureForJob(error), claim.token, false),
          'count an attempt cut off',
        );
      } finally {
        this.#dueAt.delete(this.#jobId(message.id));
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
    this.#added(due.length);
    const promoted = Promise.all(due.map(({ job }) => job.promote().catch(ignore)));
    this.#promoting = Promise.all([this.#promoting, promoted]).then(ignore);
    this.#host?.wake();
  }

  /** Renews the claims this server holds: attempts under way, and outcomes not yet recorded. */
  #renewClaims(): void {
    for (const { job, token } of [...this.#claimed.values(), ...this.#unrecorded.claims()]) {
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
        const ready = await readyInQueue(queue);
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
    const { queue } = this.#options;
    const lastError = this.#link?.lastError() ?? this.#lastError;
    return unavailableError({ server: this.#server, queue, secrets: this.#secrets, lastError }, error, what);
  }
}
