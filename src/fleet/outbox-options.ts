import { Redis, type RedisOptions } from 'ioredis';
import { checkedEncryptionKey } from '../outbox/spool/cipher.js';
import { showValue } from '../truncate.js';

/** Options of {@link fleetOutbox}. */
export interface FleetOutboxOptions {
  /**
   * The Redis server the fleet shares: ioredis options, or an ioredis client whose options are copied (the outbox
   * opens connections of its own with them, and closes them on close). Redis 6.2 or later, with
   * `maxmemory-policy noeviction` and persistence (AOF or snapshots) so that a restart of Redis keeps the messages.
   */
  readonly connection: Redis | RedisOptions;
  /** The queue's name: the same on every server of one fleet (one district's relay), used by nothing else. */
  readonly queue: string;
  /**
   * The prefix of every key the queue uses in Redis.
   * @default 'messenger-email'
   */
  readonly prefix?: string;
  /**
   * A 32-byte key that seals each message (AES-256-GCM) before it goes to Redis: its recipients, headers, body and
   * attachments. Give every server the same key; keep it in a secret store, never in Redis. Without it messages
   * are stored as JSON.
   */
  readonly encryptionKey?: Uint8Array;
  /**
   * How long, in milliseconds, a server holds a message it claimed without renewing its claim: a server that
   * stops (killed, crashed, cut off from Redis) leaves its messages to the others that long after its last word,
   * plus up to the same again for the check that finds them. A live server renews every claim a third of this
   * apart. At least 1000.
   * @default 30000
   */
  readonly lockMs?: number;
  /**
   * How often, in milliseconds, an idle server asks Redis whether the fleet has work: messages handed to another
   * server, retries come due. At least 10.
   * @default 250
   */
  readonly pollMs?: number;
  /**
   * Told what the Redis server would do to the fleet's messages when the outbox starts: keys evicted under memory
   * pressure (`maxmemory-policy` other than `noeviction`), or nothing kept on disk.
   * @default a Node process warning (`process.emitWarning`, code `MESSENGER_EMAIL_FLEET_REDIS`)
   */
  readonly onWarning?: (message: string) => void;
}

/** The options with their defaults, and the connection as ioredis options. */
export interface ResolvedFleetOutboxOptions {
  readonly redis: RedisOptions;
  readonly queue: string;
  readonly prefix: string;
  readonly encryptionKey: Uint8Array | undefined;
  readonly lockMs: number;
  readonly pollMs: number;
  readonly onWarning: (message: string) => void;
}

function processWarning(message: string): void {
  process.emitWarning(message, { type: 'MessengerEmailWarning', code: 'MESSENGER_EMAIL_FLEET_REDIS' });
}

function wholeAtLeast(name: string, value: number, least: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < least) {
    throw new TypeError(
      `fleetOutbox: ${name} must be a whole number of milliseconds of at least ${least} (received ${showValue(String(value))})`,
    );
  }
  return value;
}

function name(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes(':')) {
    throw new TypeError(
      `fleetOutbox: ${option} must be a non-empty string without ':', the same on every server (received ${showValue(String(value))})`,
    );
  }
  return value;
}

/**
 * Checks the options and fills in the defaults.
 *
 * @throws TypeError naming the option and the value received
 */
export function resolveFleetOutboxOptions(options: FleetOutboxOptions): ResolvedFleetOutboxOptions {
  const {
    connection,
    lockMs = 30_000,
    pollMs = 250,
    prefix = 'messenger-email',
    onWarning = processWarning,
  } = options ?? {};
  if (typeof onWarning !== 'function') throw new TypeError('fleetOutbox: onWarning must be a function');
  if (typeof connection !== 'object' || connection === null) {
    throw new TypeError('fleetOutbox: connection must be an ioredis client or ioredis options');
  }
  const redis: RedisOptions = connection instanceof Redis ? { ...connection.options } : { ...connection };
  if (redis.keyPrefix) {
    throw new TypeError('fleetOutbox: the connection must not set keyPrefix: use the prefix option instead');
  }
  return {
    redis,
    queue: name('queue', options.queue),
    prefix: name('prefix', prefix),
    encryptionKey: checkedEncryptionKey(options.encryptionKey),
    lockMs: wholeAtLeast('lockMs', lockMs, 1000),
    pollMs: wholeAtLeast('pollMs', pollMs, 10),
    onWarning,
  };
}

/** Options of {@link "messenger-email/fleet".fleetTenants | fleetTenants}: those of a fleet outbox, and how far ahead a server claims. */
export interface FleetTenantsOptions extends FleetOutboxOptions {
  /**
   * How many messages a server claims ahead of its districts' Mailers (in the fleet's fair order). More keeps a
   * fast relay busy; fewer keeps the order closer to fair, and an emergency handed over later waits behind at
   * most this many standard messages of each server. At least 1.
   * @default 16
   */
  readonly prefetch?: number;
}

/**
 * Checks the options of a fleet of groups and fills in the defaults.
 *
 * @throws TypeError naming the option and the value received
 */
export function resolveFleetTenantsOptions(options: FleetTenantsOptions): ResolvedFleetOutboxOptions & {
  readonly prefetch: number;
} {
  let resolved: ResolvedFleetOutboxOptions;
  try {
    resolved = resolveFleetOutboxOptions(options);
  } catch (error) {
    if (error instanceof TypeError)
      throw new TypeError(error.message.replace(/^fleetOutbox:/, 'fleetTenants:'));
    throw error;
  }
  const { prefetch = 16 } = options ?? {};
  if (typeof prefetch !== 'number' || !Number.isInteger(prefetch) || prefetch < 1) {
    throw new TypeError(
      `fleetTenants: prefetch must be a whole number of at least 1 (received ${showValue(String(prefetch))})`,
    );
  }
  return { ...resolved, prefetch };
}
