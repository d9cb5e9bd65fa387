/**
 * `messenger-email/fleet`: several servers (or processes) that send through the same relay share one outbox on
 * BullMQ and one exact throttle, both in Redis. Needs `bullmq` and `ioredis` (optional peer dependencies: install
 * them to use this entry point).
 *
 * @packageDocumentation
 * @module messenger-email/fleet
 */
import type { Outbox } from '../outbox/types.js';
import type { StartPermits } from '../permits/types.js';
import type { TenantFleet } from '../tenants/types.js';
import { FleetEvents } from './fleet-events.js';
import { FleetOutbox } from './fleet-outbox.js';
import { FleetPermits } from './fleet-permits.js';
import { FleetSettings, type FleetSettingsOptions } from './fleet-settings.js';
import { FleetTenants } from './fleet-tenants.js';
import { type FleetPermitsOptions, resolveFleetOptions } from './options.js';
import {
  type FleetOutboxOptions,
  type FleetTenantsOptions,
  resolveFleetOutboxOptions,
  resolveFleetTenantsOptions,
} from './outbox-options.js';

export { FleetUnavailableError } from '../errors.js';
export type {
  FleetCancelledEvent,
  FleetCounts,
  FleetEventMap,
  FleetEvents,
  FleetFailedEvent,
  FleetMessageEvent,
} from './fleet-events.js';
export type {
  FleetPasswordMismatchEvent,
  FleetSettings,
  FleetSettingsAppliedEvent,
  FleetSettingsEventMap,
  FleetSettingsOptions,
} from './fleet-settings.js';
export type { FleetPermitsOptions } from './options.js';
export type { FleetOutboxOptions, FleetTenantsOptions } from './outbox-options.js';

/**
 * One outbox for every server of a fleet, on BullMQ in Redis: a message handed to any server's Mailer is in Redis
 * before its `queued` event (and before `enqueue()` resolves), and any server's Mailer may deliver it. Give each
 * Mailer its own `fleetOutbox()` with the same Redis and queue name, and {@link fleetPermits} for the throttle.
 *
 * - **Order:** an emergency handed to any server is claimed before every waiting standard message of the fleet.
 * - **Counts in the job:** attempts and failures live in BullMQ's job, so Max Errors Before Cancel holds whichever
 *   server tries next, across restarts.
 * - **A server that stops** leaves its claims; after `lockMs` BullMQ's stalled-job check puts them back, and the
 *   next server counts the attempt that was cut off as failed with an unknown outcome (`failed` with
 *   `unknownOutcome: true`), then retries it with the same Message-ID after Minutes Between Retries.
 * - **Redis down:** `send()`/`enqueue()` reject at once with a {@link FleetUnavailableError} (within 5 s when
 *   Redis is reached but does not answer); claims wait for Redis to come back, and delivery goes on. Messages
 *   handed over together are stored together (one `addBulk` per batch).
 * - **Attachments** travel in the job: their bytes are read when the message is accepted (within the attachment
 *   limits), so any server can send them.
 * - **The password** is never written to Redis; with `encryptionKey` the message itself is sealed too.
 *
 * `resume()` finds nothing to load (the messages stay in Redis, claimed where they are) and `stats()` counts what
 * this server knows: the fleet's ready messages as last seen, the retries it scheduled, its attempts in progress.
 *
 * @param options - the Redis connection, the queue's name, the key, the claim's lease
 * @returns a new outbox for one Mailer
 * @throws TypeError when an option is not valid
 * @example
 * ```ts
 * import { Mailer } from 'messenger-email';
 * import { fleetOutbox, fleetPermits } from 'messenger-email/fleet';
 *
 * const connection = { host: 'redis.internal', port: 6379 };
 * const mailer = new Mailer({
 *   settings,
 *   outbox: fleetOutbox({ connection, queue: 'district-mail' }),
 *   permits: fleetPermits({ connection, key: 'messenger-email:relay' }),
 * });
 * ```
 */
export function fleetOutbox(options: FleetOutboxOptions): Outbox {
  return new FleetOutbox(resolveFleetOutboxOptions(options));
}

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

/**
 * Follows every message of a fleet's outbox from any process, wherever it is sent: `queued`, `sending`, `sent`,
 * `failed` (waiting for a retry, or cut off by a server that stopped) and `cancelled`, each with the message's id;
 * and `counts()`, the fleet-wide counts read from Redis. The events come from BullMQ's event stream of the queue
 * (kept in Redis, about the last 10,000 events); each Mailer's own events keep working as before.
 *
 * @param options - the Redis connection, the queue's name and prefix, as given to {@link fleetOutbox}
 * @throws TypeError when an option is not valid
 * @example
 * ```ts
 * const events = fleetEvents({ connection, queue: 'district-mail' });
 * events.on('cancelled', ({ id, reason }) => log.warn({ id, reason }, 'message given up'));
 * metrics.gauge('mail', await events.counts()); // { queued: 1200, waitingRetry: 3, sending: 12 }
 * ```
 */
export function fleetEvents(
  options: Pick<FleetOutboxOptions, 'connection' | 'queue' | 'prefix'>,
): FleetEvents {
  return new FleetEvents(resolveFleetOutboxOptions(options));
}

/**
 * One set of Email Settings for every server of a fleet, kept in Redis without the password, the OAuth 2.0 client
 * secret or the private key. Attach one to each server's Mailer with that server's own secrets; `save()` on any
 * server applies new settings there and, within about a second, on every other (a change notice on Pub/Sub, and a
 * check of the version twice a second). A server whose secrets are not the ones the settings were saved with
 * reports `passwordMismatch`; settings a server cannot apply are reported as `error` and its old settings stay in
 * force.
 *
 * @param options - the Redis connection, the settings' key, this server's password (or OAuth 2.0 client secret or
 *   private key)
 * @throws TypeError when an option is not valid
 * @example
 * ```ts
 * const shared = fleetSettings({ connection, key: 'district-42:email-settings', password: process.env.SMTP_PASSWORD });
 * shared.on('passwordMismatch', ({ message }) => log.error(message));
 * await shared.attach(mailer);          // applies what the fleet has, then follows changes
 * await shared.save(formSettings);       // from the admin screen, on any server
 * ```
 */
export function fleetSettings(options: FleetSettingsOptions): FleetSettings {
  const { connection, key, checkMs = 500 } = options ?? {};
  if (typeof connection !== 'object' || connection === null) {
    throw new TypeError('fleetSettings: connection must be an ioredis client or ioredis options');
  }
  if (typeof key !== 'string' || key === '') {
    throw new TypeError('fleetSettings: key must be a non-empty string, the same on every server');
  }
  const secrets: { -readonly [K in 'password' | 'oauthClientSecret' | 'oauthPrivateKey']?: string } = {};
  for (const name of ['password', 'oauthClientSecret', 'oauthPrivateKey'] as const) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw new TypeError(`fleetSettings: ${name} must be a string (this server's own)`);
    secrets[name] = value;
  }
  if (typeof checkMs !== 'number' || !Number.isInteger(checkMs) || checkMs < 100) {
    throw new TypeError('fleetSettings: checkMs must be a whole number of milliseconds of at least 100');
  }
  return new FleetSettings({ connection, key, ...secrets, checkMs });
}

/**
 * Many districts on several servers: give one to the `MailerGroup` of each server (`new MailerGroup({ fleet })`),
 * with the same Redis and queue name everywhere. Every district's messages then wait in one BullMQ queue, and
 * any server's group may send them.
 *
 * - **One set of connections per server**, whatever the number of districts: the queue, one worker, the event
 *   reader (once a `send()` waits) and one client for the fair order and every district's throttle.
 * - **Fair across servers:** each district's standard messages take turns in the queue itself (a round per
 *   message, weighted by the group's `share`), and every server claims in that order; emergencies go before every
 *   round. A server claims up to `prefetch` messages ahead and opens the district of each on first use.
 * - **Throttles across servers:** each district's Throttle Email Messages is one window in Redis, and so is the
 *   hosted relay's `perSecond` (the group's `hostedRelay`), whichever servers send.
 * - Everything else is as {@link fleetOutbox}: counts in the job, attempts cut off by a server that stopped
 *   counted and retried, the password never in Redis, messages sealed with `encryptionKey`.
 *
 * @param options - the Redis connection, the queue's name, the key, the claim's lease, how far ahead to claim
 * @throws TypeError when an option is not valid
 * @example
 * ```ts
 * import { MailerGroup } from 'messenger-email';
 * import { fleetTenants } from 'messenger-email/fleet';
 *
 * const group = new MailerGroup({
 *   settings: (district) => db.emailSettings(district),
 *   policy: { hostedSmtpHosts: ['smtp.vendor.example'] },
 *   hostedRelay: { perSecond: 200, connections: 20 },
 *   fleet: fleetTenants({ connection: { host: 'redis.internal', port: 6379 }, queue: 'district-mail' }),
 * });
 * ```
 */
export function fleetTenants(options: FleetTenantsOptions): TenantFleet {
  return new FleetTenants(resolveFleetTenantsOptions(options));
}
