/**
 * `messenger-email/fleet`: one throttle shared by every process that sends through the same relay, kept in Redis.
 * Needs `ioredis` (an optional peer dependency: install it to use this entry point).
 *
 * @packageDocumentation
 * @module messenger-email/fleet
 */
import type { StartPermits } from '../permits/types.js';
import { FleetPermits } from './fleet-permits.js';
import { type FleetPermitsOptions, resolveFleetOptions } from './options.js';

export { FleetUnavailableError } from '../errors.js';
export type { FleetPermitsOptions } from './options.js';

/**
 * Start permits shared by several processes or servers through Redis: at most Throttle Email Messages attempt
 * starts in any sliding second across all of them, counted where the relay counts (the reply to MAIL FROM), as
 * {@link "messenger-email".localPermits | localPermits} does in one process. Pass one to each Mailer (`new Mailer({ permits: fleetPermits(...) })`)
 * with the same Redis and key everywhere; each Mailer's settings set the rate, so give them the same Throttle.
 *
 * Every start is a member of one sorted set in Redis, scored by Redis's own clock: the hosts' clocks never count.
 * A start holds its place from the moment it is granted until a second after it happened. When Redis cannot be
 * reached, no start is granted: the Mailer reports a {@link FleetUnavailableError} as an `outboxError` event and
 * asks again a second later, and nothing is lost.
 *
 * @param options - the Redis connection, the window's key, the lease of a process that stops answering
 * @throws TypeError when an option is not valid
 * @example
 * ```ts
 * import { Mailer } from 'messenger-email';
 * import { fleetPermits } from 'messenger-email/fleet';
 *
 * const mailer = new Mailer({
 *   settings,
 *   permits: fleetPermits({ connection: { host: 'redis.internal', port: 6379 }, key: 'messenger-email:relay' }),
 * });
 * ```
 */
export function fleetPermits(options: FleetPermitsOptions): StartPermits {
  return new FleetPermits(resolveFleetOptions(options));
}
