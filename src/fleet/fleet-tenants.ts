/**
 * Many districts on several servers: every district's messages in one BullMQ queue, claimed by each server's
 * {@link "messenger-email".MailerGroup | MailerGroup} in a fair order of districts (see {@link FairOrder}).
 *
 * A server holds one set of connections whatever the number of districts: the queue, one worker (with BullMQ's
 * blocking connection), the event reader once a `send()` waits, and one client for the fair order and every
 * district's throttle window. It claims up to `prefetch` messages ahead, in the queue's order, opens the district of
 * each (its Mailer is created from its settings if it is not open here) and hands the claim to that district's
 * outbox; the district's Mailer then sends it as any Mailer on a fleet outbox does.
 *
 * A district held by its own throttle is not let to fill the server's claims: its claims waiting for its throttle do
 * not count against `prefetch`, and past a quarter second of its throttle (at least two) its next standard message
 * goes back to the queue, delayed until the district can take it (spaced by its throttle, so that each comes back
 * once, when it can be sent). It keeps its place in the fair order.
 */
import { randomUUID } from 'node:crypto';
import { type Job, type Queue, UnrecoverableError, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { FleetUnavailableError } from '../errors.js';
import { SpoolCipher } from '../outbox/spool/cipher.js';
import type { Outbox, OutboxHost } from '../outbox/types.js';
import { scrubForeign, secretForms } from '../secrets.js';
import type { TenantFleet, TenantFleetHost, TenantStartPermits } from '../tenants/types.js';
import { showValue } from '../truncate.js';
import type { AddBatcher } from './add-batcher.js';
import { ADD_TIMEOUT_MS, openQueue, openWorker, readyInQueue, unavailableError } from './bullmq-handles.js';
import { DistrictPermits } from './district-permits.js';
import { FairOrder } from './fair-order.js';
import { FleetOutbox } from './fleet-outbox.js';
import { FleetPermits } from './fleet-permits.js';
import { giveBackJob } from './give-back.js';
import { jobData } from './job-data.js';
import { messageIdOf, tenantOf } from './job-id.js';
import { DEFAULT_LEASE_MS } from './options.js';
import type { ResolvedFleetOutboxOptions } from './outbox-options.js';
import { OutcomeFollower } from './outcome-follower.js';
import { redisWarnings } from './redis-warnings.js';
import { retryUntilClosed } from './retry-until-closed.js';
import type { Claim, TenantLink } from './tenant-link.js';

const ignore = (): void => undefined;
const CLOSE_TIMEOUT_MS = 2000;
/** How long a claim waits before it is tried again when its district cannot be opened here. */
export const OPEN_RETRY_MS = 30_000;
/** How long a district's settings may take to load when one of its messages was claimed here. */
export const OPEN_TIMEOUT_MS = 10_000;
/** How long the claims wait after Redis failed them. */
const CLAIM_RETRY_MS = 1000;
/** The fewest claims that may wait for one district before its next standard message is put off. */
const LANE_MIN = 2;

/** One district as this server knows it. */
interface Lane {
  readonly tenant: string;
  host: OutboxHost | undefined;
  readonly claims: Claim[];
  /** The district's Throttle Email Messages (claims waiting for it are held to a quarter second of it). */
  rate: number;
  /** When the district's last put-off message is due back (milliseconds since the epoch). */
  putOffUntil: number;
  /** The district's permits: while its own window is full, its claims do not count against `prefetch`. */
  permits: DistrictPermits | undefined;
}

/** Options of the fleet of groups, checked. */
export interface ResolvedFleetTenantsOptions extends ResolvedFleetOutboxOptions {
  readonly prefetch: number;
}

function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

/** See the module description. */
export class FleetTenants implements TenantFleet {
  readonly #options: ResolvedFleetTenantsOptions;
  readonly #secrets: string[];
  readonly #server: string;
  readonly #instance = randomUUID();
  #tokens = 0;
  #host: TenantFleetHost | undefined;
  #queue: Queue | undefined;
  #worker: Worker | undefined;
  #batcher: AddBatcher | undefined;
  #commands: Redis | undefined;
  #order: FairOrder | undefined;
  readonly #follower: OutcomeFollower;
  readonly #dueAt = new Map<string, number>();
  readonly #lanes = new Map<string, Lane>();
  /** How many messages the fleet is believed to have ready. */
  #estimate = 0;
  /** Claims asked of BullMQ and not yet answered. */
  #fetching = 0;
  /** Claims being handed to their district (its Mailer may be opening). */
  readonly #routingClaims = new Set<Claim>();
  #pumping: Promise<void> | undefined;
  #pumpAgain = false;
  #poll: ReturnType<typeof setTimeout> | undefined;
  #renewal: ReturnType<typeof setInterval> | undefined;
  #lastError: Error | undefined;
  #closed = false;
  /** No more claims: the group is closing. */
  #stopped = false;
  readonly #routing = new Set<Promise<unknown>>();

  /** @param options - checked options */
  constructor(options: ResolvedFleetTenantsOptions) {
    this.#options = { ...options, redis: retryUntilClosed(options.redis, () => this.#closed) };
    const { username, password, host, port, path } = options.redis;
    this.#secrets = secretForms(username ?? undefined, password ?? undefined);
    this.#server = path ?? `${host ?? 'localhost'}:${port ?? 6379}`;
    const cipher = options.encryptionKey === undefined ? undefined : new SpoolCipher(options.encryptionKey);
    this.#follower = new OutcomeFollower(this.#options, cipher, (jobId, outcome) => {
      const tenant = tenantOf(jobId);
      const lane = tenant === undefined ? undefined : this.#lanes.get(tenant);
      lane?.host?.finishedElsewhere(messageIdOf(jobId), outcome);
    });
  }

  start(host: TenantFleetHost): void {
    if (this.#host !== undefined)
      throw new TypeError('This fleet serves a MailerGroup already: make one per group');
    if (this.#closed) throw new TypeError('This fleet is closed');
    this.#host = host;
    const { redis, queue, prefix, lockMs } = this.#options;
    const opened = openQueue(this.#options, () =>
      this.#unavailable(
        `did not answer within ${ADD_TIMEOUT_MS / 1000} s (the message may still be stored and sent: hand it over again with the same id, which is refused while it is pending)`,
        'confirm the message',
      ),
    );
    this.#queue = opened.queue;
    this.#batcher = opened.batcher;
    this.#worker = openWorker(this.#options, (job) => {
      const due = job?.id === undefined ? undefined : this.#dueAt.get(job.id);
      return Math.max(1, (due ?? Date.now()) - Date.now());
    });
    this.#commands = new Redis({ ...redis, maxRetriesPerRequest: 1 });
    this.#order = new FairOrder(this.#commands, prefix, queue);
    const remember = (error: Error): void => {
      this.#lastError = scrubForeign(error, this.#secrets);
    };
    this.#queue.on('error', remember);
    this.#worker.on('error', remember);
    this.#commands.on('error', remember);
    void this.#worker.startStalledCheckTimer().catch(remember);
    this.#renewal = setInterval(() => this.#renew(), Math.max(300, Math.floor(lockMs / 3)));
    this.#renewal.unref();
    this.#schedulePoll(0);
    void redisWarnings(redis, queue).then((warnings) => {
      for (const warning of warnings) {
        try {
          this.#options.onWarning(warning);
        } catch {
          // a warning handler that fails must not stop the fleet
        }
      }
    });
  }

  outbox(tenant: string): Outbox {
    return new FleetOutbox(this.#options, this.#link(tenant));
  }

  permits(tenant: string, hosted: boolean): TenantStartPermits {
    const connection = this.#client();
    const { prefix, queue } = this.#options;
    const window = (key: string) => new FleetPermits({ connection, key, leaseMs: DEFAULT_LEASE_MS });
    const perSecond = this.#host?.relayPerSecond;
    let relay: FleetPermits | undefined;
    if (perSecond !== undefined) {
      relay = window(`${prefix}:${queue}:relay-window`);
      relay.setRate(perSecond);
    }
    const own = window(`${prefix}:${queue}:district-window:${tenant}`);
    const permits = new DistrictPermits(own, relay, hosted, (rate) => {
      this.#lane(tenant).rate = rate;
    });
    this.#lane(tenant).permits = permits;
    return permits;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#poll !== undefined) clearTimeout(this.#poll);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    // the claim round under way ends first (what it claims now goes back), then the claims being handed over
    await within(this.#pumping ?? Promise.resolve(), CLOSE_TIMEOUT_MS);
    await within(Promise.allSettled([...this.#routing]), CLOSE_TIMEOUT_MS);
    if (this.#renewal !== undefined) clearInterval(this.#renewal);
    const left = [...this.#lanes.values()].flatMap((lane) => lane.claims.splice(0));
    await within(Promise.all(left.map((claim) => giveBackJob(claim, 0).catch(ignore))), CLOSE_TIMEOUT_MS);
    await within(
      Promise.all([
        this.#worker?.close(true).catch(ignore),
        this.#queue?.close().catch(ignore),
        this.#follower.close(),
        this.#commands?.quit().catch(ignore),
      ]),
      CLOSE_TIMEOUT_MS,
    );
    // a client that could not quit (Redis down) would go on reconnecting and keep the process alive
    this.#worker?.disconnect().catch(ignore);
    this.#queue?.disconnect().catch(ignore);
    this.#commands?.disconnect();
  }

  #client(): Redis {
    if (this.#commands === undefined)
      throw new TypeError('The fleet is not started: give it to a MailerGroup');
    return this.#commands;
  }

  #lane(tenant: string): Lane {
    let lane = this.#lanes.get(tenant);
    if (lane === undefined) {
      lane = { tenant, host: undefined, claims: [], rate: 1, putOffUntil: 0, permits: undefined };
      this.#lanes.set(tenant, lane);
    }
    return lane;
  }

  /** A district's link to the shared queue, for its outbox. */
  #link(tenant: string): TenantLink {
    const queue = this.#queue;
    const worker = this.#worker;
    const batcher = this.#batcher;
    if (queue === undefined || worker === undefined || batcher === undefined) {
      throw new TypeError('The fleet is not started: give it to a MailerGroup');
    }
    const order = this.#order as FairOrder;
    return {
      tenant,
      queue,
      worker,
      batcher,
      follower: this.#follower,
      dueAt: this.#dueAt,
      priority: async () => {
        const [priority] = await order.next(tenant, this.#host?.weight(tenant) ?? 1);
        return priority as number;
      },
      take: (max) => {
        const lane = this.#lanes.get(tenant);
        const taken = lane === undefined ? [] : lane.claims.splice(0, max);
        if (taken.length > 0) this.#pump();
        return taken;
      },
      buffered: () => this.#lanes.get(tenant)?.claims.length ?? 0,
      added: (n) => {
        this.#estimate += n;
        this.#pump();
      },
      lastError: () => this.#lastError,
      attach: (host) => {
        this.#lane(tenant).host = host;
      },
      detach: async () => {
        const lane = this.#lanes.get(tenant);
        if (lane === undefined) return;
        lane.host = undefined;
        const left = lane.claims.splice(0);
        this.#lanes.delete(tenant);
        // bounded: with Redis down they are not given back, and BullMQ's stalled-job check returns them later
        await within(Promise.all(left.map((claim) => giveBackJob(claim, 0).catch(ignore))), CLOSE_TIMEOUT_MS);
        this.#estimate += left.length;
        if (left.length > 0) this.#pump();
      },
    };
  }

  /**
   * Claims that count against `prefetch`: asked for, being handed over, and waiting in the districts' outboxes,
   * except those of a district whose own throttle is full (they wait for it, not for the relay or a connection).
   */
  #busy(): number {
    let waiting = 0;
    for (const lane of this.#lanes.values()) {
      const ownBound = lane.permits?.ownBlocked === true && lane.permits.relayBlocked !== true;
      if (lane.claims.length > 0 && !ownBound) waiting += lane.claims.length;
    }
    return this.#fetching + this.#routingClaims.size + waiting;
  }

  /** Claims ahead while the fleet has messages ready and fewer than `prefetch` claims wait here. */
  #pump(): void {
    if (this.#stopped || this.#host === undefined) return;
    if (this.#pumping !== undefined) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = this.#fill()
      .catch((error: unknown) => this.#report(this.#unavailable(error, 'claim messages')))
      .finally(() => {
        this.#pumping = undefined;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.#pump();
        }
      });
  }

  async #fill(): Promise<void> {
    const worker = this.#worker as Worker;
    for (;;) {
      const n = this.#options.prefetch - this.#busy();
      if (this.#stopped || this.#estimate <= 0 || n <= 0) return;
      const tokens = Array.from({ length: n }, () => this.#nextToken());
      this.#fetching += n;
      let fetched: PromiseSettledResult<Job | undefined>[];
      try {
        fetched = await Promise.allSettled(tokens.map((token) => worker.getNextJob(token, { block: false })));
      } finally {
        this.#fetching -= n;
      }
      const claims: Claim[] = [];
      let failure: unknown;
      fetched.forEach((result, i) => {
        if (result.status === 'rejected') failure = result.reason;
        else if (result.value !== undefined) claims.push({ job: result.value, token: tokens[i] as string });
      });
      this.#estimate = claims.length < n ? 0 : Math.max(0, this.#estimate - claims.length);
      if (this.#stopped) {
        // stopped while the claims were on their way: back to the queue for the other servers, at once
        await within(
          Promise.all(claims.map((claim) => giveBackJob(claim, 0).catch(ignore))),
          CLOSE_TIMEOUT_MS,
        );
        return;
      }
      if (claims.length === 0) {
        if (failure === undefined) return;
        this.#report(this.#unavailable(failure, 'claim messages'));
        this.#estimate = Math.max(this.#estimate, 1);
        await new Promise((resolve) => setTimeout(resolve, CLAIM_RETRY_MS).unref());
        continue;
      }
      const top = Math.max(0, ...claims.map((claim) => claim.job.priority ?? 0));
      if (top > 0) void this.#order?.advance(top).catch(ignore);
      for (const claim of claims) this.#hand(claim);
    }
  }

  /** Hands a claim to its district, counted and renewed meanwhile. */
  #hand(claim: Claim): void {
    this.#routingClaims.add(claim);
    const routing = this.#route(claim)
      .catch((error: unknown) => {
        const tenant = jobData(claim.job)?.tenant ?? tenantOf(claim.job.id as string);
        this.#report(this.#unavailable(error, 'hand a claimed message to its district'), tenant);
      })
      .finally(() => {
        this.#routingClaims.delete(claim);
        this.#routing.delete(routing);
        this.#pump();
      });
    this.#routing.add(routing);
  }

  /** Opens a district here, within {@link OPEN_TIMEOUT_MS}. */
  #open(tenant: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`its settings did not load within ${OPEN_TIMEOUT_MS / 1000} s`)),
        OPEN_TIMEOUT_MS,
      );
      timer.unref();
      (this.#host as TenantFleetHost).open(tenant).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Hands one claim to its district's outbox, opening the district here first when it is not open. */
  async #route(claim: Claim): Promise<void> {
    const data = jobData(claim.job);
    const tenant = data?.tenant ?? tenantOf(claim.job.id as string);
    if (tenant === undefined) {
      const reason = `Job ${showValue(String(claim.job.id))} in the fleet's queue is not a district's message: it was removed`;
      await claim.job.moveToFailed(new UnrecoverableError(reason), claim.token, false);
      this.#report(new FleetUnavailableError(reason));
      return;
    }
    if (this.#lanes.get(tenant)?.host === undefined) {
      try {
        await this.#open(tenant);
      } catch (error) {
        if (this.#stopped) {
          await giveBackJob(claim, 0); // the group is closing: for the other servers at once
          return;
        }
        await giveBackJob(claim, OPEN_RETRY_MS);
        const cause = error instanceof Error ? error : new Error(String(error));
        this.#report(
          new FleetUnavailableError(
            `A message of district ${showValue(tenant)} waits: its Mailer could not be opened on this server (${cause.message}). It is tried again in ${OPEN_RETRY_MS / 1000} s.`,
            { cause },
          ),
          tenant,
        );
        return;
      }
    }
    const lane = this.#lanes.get(tenant);
    if (lane?.host === undefined || this.#stopped) {
      await giveBackJob(claim, 0);
      return;
    }
    const emergency = data?.kind === 'emergency';
    const rate = Math.max(1, lane.rate);
    // On the hosted relay, only the district's own throttle puts a claim off: waiting for the relay, the claims
    // stay and count against prefetch, so the server claims no faster than the relay takes them, in the queue's
    // order (and so by the districts' shares). On its own relay, a district that does not keep up (its throttle,
    // its connections, a slow relay) is held to its allowance, so that it cannot take the server's claims.
    const putOff = lane.permits?.hosted === true ? lane.permits.ownBlocked : true;
    if (!emergency && putOff && lane.claims.length >= Math.max(LANE_MIN, Math.ceil(rate / 4))) {
      // held by its own throttle: due back when the district can take it, its place in the order kept
      const now = Date.now();
      lane.putOffUntil = Math.max(lane.putOffUntil, now + (lane.claims.length * 1000) / rate) + 1000 / rate;
      await giveBackJob(claim, Math.max(1, Math.ceil(lane.putOffUntil - now)));
      return;
    }
    // an emergency goes before the district's standard claims, as it went before them in the queue
    if (emergency) lane.claims.unshift(claim);
    else lane.claims.push(claim);
    lane.host.wake();
  }

  /** Renews the claims that wait here for their district's Mailer, and those being handed over. */
  #renew(): void {
    const claims = [...this.#routingClaims, ...[...this.#lanes.values()].flatMap((lane) => lane.claims)];
    for (const { job, token } of claims) {
      job.extendLock(token, this.#options.lockMs).catch((error: unknown) => {
        this.#lastError = scrubForeign(error, this.#secrets);
      });
    }
  }

  #schedulePoll(ms: number): void {
    if (this.#stopped) return;
    this.#poll = setTimeout(() => void this.#pollOnce(), ms);
    this.#poll.unref();
  }

  /** While nothing is believed ready: asks Redis whether the fleet has work (new, or retries come due). */
  async #pollOnce(): Promise<void> {
    const queue = this.#queue;
    if (queue === undefined || this.#stopped) return;
    try {
      if (this.#estimate === 0) {
        const ready = await readyInQueue(queue);
        if (ready > 0 && this.#estimate === 0) {
          this.#estimate = ready;
          this.#pump();
        }
      }
    } catch (error) {
      this.#lastError = scrubForeign(error, this.#secrets);
    } finally {
      this.#schedulePoll(this.#options.pollMs);
    }
  }

  #nextToken(): string {
    this.#tokens += 1;
    return `${this.#instance}:${this.#tokens}`;
  }

  #report(error: Error, tenant?: string): void {
    try {
      this.#host?.error(error, tenant);
    } catch {
      // a failing listener must not stop the claims
    }
  }

  #unavailable(error: unknown, what: string): FleetUnavailableError {
    const { queue } = this.#options;
    const where = { server: this.#server, queue, secrets: this.#secrets, lastError: this.#lastError };
    return unavailableError(where, error, what);
  }
}
