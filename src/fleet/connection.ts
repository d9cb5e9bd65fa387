/**
 * The Redis connection of one set of fleet permits: the client passed in, or one created from options (and then
 * owned: quit on close). Every command is bounded in time, and every failure becomes a {@link FleetUnavailableError}
 * that names the server, never its password.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { FleetUnavailableError } from '../errors.js';
import { scrubForeign, secretForms } from '../secrets.js';
import { showValue } from '../truncate.js';
import { type SettleBatch, type TakeReply, type WindowCommands, windowCommands } from './scripts.js';

/**
 * How long a command may go unanswered before it counts as failed, in milliseconds. Redis answers these scripts
 * in well under a millisecond; a client waiting to reconnect would hold them much longer.
 */
export const REPLY_TIMEOUT_MS = 2000;

/** How long `close()` waits for a client it owns to quit before it drops the connection. */
const QUIT_TIMEOUT_MS = 1000;

/** Where a client connects, for messages: host and port, a socket path, or the Sentinel group; never credentials. */
export function describeServer(redis: Redis): string {
  const { host, port, path, sentinels, name } = redis.options;
  if (path) return path;
  if (sentinels && sentinels.length > 0) return `the Sentinel group "${name ?? 'mymaster'}"`;
  return `${host ?? 'localhost'}:${port ?? 6379}`;
}

/** A connection, with the window's commands. */
export class FleetConnection {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #commands: WindowCommands;
  readonly #key: string;
  /** Every form of the Redis password, scrubbed from the errors passed on as `cause`. */
  readonly #secrets: string[];
  /** The last connection error of a client we own (a client passed in keeps its own listeners). */
  #lastError: Error | undefined;

  /**
   * @param connection - a client to use as it is, or options to create one with
   * @param key - the window's key, for messages
   */
  constructor(connection: Redis | RedisOptions, key: string) {
    this.#key = key;
    if (connection instanceof Redis) {
      this.#redis = connection;
      this.#owned = false;
    } else {
      this.#redis = new Redis(connection);
      this.#owned = true;
      // reported through take(); without a listener ioredis would print each one
      this.#redis.on('error', (error: Error) => {
        this.#lastError = error;
      });
      this.#redis.on('ready', () => {
        this.#lastError = undefined;
      });
    }
    const { username, password } = this.#redis.options; // null when not set
    this.#secrets = secretForms(username ?? undefined, password ?? undefined);
    this.#commands = windowCommands(this.#redis);
  }

  /** Where the connection goes, for messages. */
  get server(): string {
    return describeServer(this.#redis);
  }

  /**
   * The error to report at once, without sending anything, when the client is not connected and waits to
   * reconnect (a command would only wait in its queue); undefined when a command may be sent.
   */
  unavailable(): FleetUnavailableError | undefined {
    const status = this.#redis.status;
    if (status !== 'reconnecting' && status !== 'close' && status !== 'end') return undefined;
    const how = status === 'end' ? 'the connection was closed' : 'the connection is lost, reconnecting';
    return new FleetUnavailableError(
      `Redis at ${this.server} is not reachable (${how}): no message starts until the fleet's shared throttle is back. Check that Redis is running and that this server can reach it.`,
      this.#lastError === undefined ? {} : { cause: scrubForeign(this.#lastError, this.#secrets) },
    );
  }

  /** Runs a take; see {@link WindowCommands.take}. */
  take(request: Parameters<WindowCommands['take']>[1]): Promise<TakeReply> {
    return this.#bounded(this.#commands.take(this.#key, request));
  }

  /** Records a batch; see {@link WindowCommands.settle}. Resolves once Redis answered. */
  settle(leaseMs: number, batch: SettleBatch): Promise<void> {
    return this.#bounded(this.#commands.settle(this.#key, leaseMs, batch));
  }

  /** Quits the connection when it was created here (a client passed in stays open); never rejects. */
  async close(): Promise<void> {
    if (!this.#owned) return;
    const redis = this.#redis;
    if (redis.status !== 'ready') {
      redis.disconnect();
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
    });
    await Promise.race([redis.quit().catch(() => undefined), late]);
    clearTimeout(timer);
    redis.disconnect();
  }

  /** Rejects with a {@link FleetUnavailableError} when the command fails or goes unanswered too long. */
  #bounded<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new FleetUnavailableError(
            `Redis at ${this.server} did not answer within ${REPLY_TIMEOUT_MS / 1000} s: no message starts until the fleet's shared throttle answers. Check that Redis is running, is not overloaded, and that this server can reach it.`,
          ),
        );
      }, REPLY_TIMEOUT_MS);
      timer.unref();
      command.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(this.#failure(error));
        },
      );
    });
  }

  #failure(error: unknown): FleetUnavailableError {
    const cause = scrubForeign(error, this.#secrets);
    const refused = cause.name === 'ReplyError'; // Redis answered with an error: NOAUTH, WRONGTYPE, NOPERM, …
    const hint = refused
      ? `check the Redis credentials and permissions, and that key ${showValue(this.#key)} holds nothing but the fleet's window`
      : 'check that Redis is running and that this server can reach it';
    return new FleetUnavailableError(
      `Redis at ${this.server} failed the fleet's shared throttle (${showValue(cause.message, { quote: false })}): no message starts until it answers; ${hint}.`,
      { cause },
    );
  }
}
