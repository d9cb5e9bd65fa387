/**
 * What one district's fleet outbox uses of the queue that every district of a {@link FleetTenants} shares: the
 * process's one set of BullMQ handles (one queue, one worker, one event reader), the claims the process made for
 * the district, and the district's place in the fair order.
 */
import type { Job, Queue, Worker } from 'bullmq';
import type { OutboxHost } from '../outbox/types.js';
import type { AddBatcher } from './add-batcher.js';
import type { OutcomeFollower } from './outcome-follower.js';

/** A message claimed in BullMQ: its job and the token of the claim. */
export interface Claim {
  readonly job: Job;
  readonly token: string;
}

/** One district's link to the shared queue. */
export interface TenantLink {
  /** The district's id. */
  readonly tenant: string;
  readonly queue: Queue;
  readonly batcher: AddBatcher;
  readonly worker: Worker;
  readonly follower: OutcomeFollower;
  /** When each retry being scheduled is due, by job id: read by the shared worker's backoff strategy. */
  readonly dueAt: Map<string, number>;
  /** The BullMQ priority of the district's next standard message: its place in the fair order. */
  priority(): Promise<number>;
  /** Claims made for the district and not yet taken, up to `max`, removed from the link. */
  take(max: number): Claim[];
  /** How many claims wait for the district. */
  buffered(): number;
  /** The fleet has `n` more messages ready (added, given back, or a retry come due): claims go on. */
  added(n: number): void;
  /** The last connection error of the shared handles. */
  lastError(): Error | undefined;
  /** The district's outbox serves a Mailer: claims for it wake the Mailer. */
  attach(host: OutboxHost): void;
  /** The district's outbox closed: claims still waiting for it go back to the queue. */
  detach(): Promise<void>;
}
