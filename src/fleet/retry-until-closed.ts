/**
 * The reconnect policy of every connection BullMQ opens for the fleet: the caller's own (or ioredis's default),
 * until the owner is closed, then none. BullMQ cannot quit a client while Redis is down, and such a client would go
 * on reconnecting and keep the process alive after `close()`.
 */
import type { RedisOptions } from 'ioredis';

/** `redis` with a `retryStrategy` that gives up once `closed()` says so. */
export function retryUntilClosed(redis: RedisOptions, closed: () => boolean): RedisOptions {
  const retry = redis.retryStrategy;
  const retryStrategy = (times: number): number | undefined | null => {
    if (closed()) return null;
    return typeof retry === 'function' ? (retry(times) as number | null) : Math.min(times * 50, 2000);
  };
  return { ...redis, retryStrategy };
}
