import { Redis, type RedisOptions } from 'ioredis';
import { showValue } from '../truncate.js';

/** Options of {@link fleetPermits}. */
export interface FleetPermitsOptions {
  /**
   * The Redis server the processes share: an ioredis client (used as it is, left open on close, and its `error`
   * events left to you), or ioredis options to create one (closed with the permits). Give every process the same
   * server and key.
   */
  readonly connection: Redis | RedisOptions;
  /**
   * The key of the shared window (a sorted set): the same in every process that sends through the same relay, and
   * used by nothing else. One key is one limit.
   */
  readonly key: string;
  /**
   * How long, in milliseconds, a permit granted to a process that stops answering (killed, crashed, cut off from
   * Redis) keeps its place: its places are freed at most this long, plus one second, after its last word. A live
   * process renews the lease of every start still on its way, a third of a lease apart, however long the
   * connection takes. At least 1000.
   * @default 60000
   */
  readonly leaseMs?: number;
}

/** The lease when none is given: a minute. */
export const DEFAULT_LEASE_MS = 60_000;

/**
 * Checks the options and fills in the lease.
 *
 * @throws TypeError naming the option and the value received
 */
export function resolveFleetOptions(options: FleetPermitsOptions): Required<FleetPermitsOptions> {
  const { connection, key, leaseMs = DEFAULT_LEASE_MS } = options;
  if (typeof connection !== 'object' || connection === null) {
    throw new TypeError('fleetPermits: connection must be an ioredis client or ioredis options');
  }
  const client = typeof (connection as { defineCommand?: unknown }).defineCommand === 'function';
  if (client && !(connection instanceof Redis)) {
    throw new TypeError(
      'fleetPermits: connection must be a Redis client of the ioredis that messenger-email/fleet loads, or ioredis options (a Cluster, or a client of another copy of ioredis, is not supported)',
    );
  }
  if (typeof key !== 'string' || key === '') {
    throw new TypeError(
      `fleetPermits: key must be a non-empty string, the same in every process (received ${showValue(String(key))})`,
    );
  }
  if (typeof leaseMs !== 'number' || !Number.isInteger(leaseMs) || leaseMs < 1000) {
    throw new TypeError(
      `fleetPermits: leaseMs must be a whole number of milliseconds of at least 1000 (received ${showValue(String(leaseMs))})`,
    );
  }
  return { connection, key, leaseMs };
}
