/**
 * What a Redis server would do to a fleet's messages that its owner may not know: evict keys under memory
 * pressure (any `maxmemory-policy` but `noeviction` may drop a waiting message), or keep nothing on disk (a restart
 * of Redis empties the outbox). Read once when a fleet outbox starts, from `CONFIG GET` (or `INFO` where a managed
 * Redis refuses CONFIG), and said as warnings: the fleet still runs.
 */
import { Redis, type RedisOptions } from 'ioredis';

/** How long the check may take before it is left out (Redis unreachable is reported by the outbox itself). */
const CHECK_TIMEOUT_MS = 3000;

function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/**
 * The warnings for the Redis server `redis` points at: none when it keeps its keys and writes them to disk.
 *
 * @param redis - ioredis options
 * @param queue - the queue's name, for the messages
 * @returns one sentence per problem, each saying what to change; empty when Redis cannot be asked
 */
export async function redisWarnings(redis: RedisOptions, queue: string): Promise<string[]> {
  const client = new Redis({
    ...redis,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: CHECK_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    let policy: string | undefined;
    let aof: string | undefined;
    let save: string | undefined;
    try {
      policy = ((await client.config('GET', 'maxmemory-policy')) as string[])[1];
      aof = ((await client.config('GET', 'appendonly')) as string[])[1];
      save = ((await client.config('GET', 'save')) as string[])[1];
    } catch {
      const info = await client.info();
      policy = infoField(info, 'maxmemory_policy');
      aof = infoField(info, 'aof_enabled') === '1' ? 'yes' : undefined;
    }
    const warnings: string[] = [];
    if (policy !== undefined && policy !== 'noeviction') {
      warnings.push(
        `Redis evicts keys under memory pressure (maxmemory-policy ${policy}): messages waiting in the fleet's outbox "${queue}" could be dropped. Set maxmemory-policy noeviction on this Redis.`,
      );
    }
    if (aof === 'no' && save === '') {
      warnings.push(
        `Redis keeps nothing on disk (appendonly no, no save points): a restart of Redis loses every message waiting in the fleet's outbox "${queue}". Turn on appendonly yes (appendfsync everysec or always).`,
      );
    }
    return warnings;
  } catch {
    return [];
  } finally {
    client.disconnect();
  }
}
