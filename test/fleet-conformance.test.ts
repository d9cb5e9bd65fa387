/**
 * The Outbox conformance suite against the fleet outbox, on a real redis-server started for this file. Without
 * redis-server the file is skipped, except in CI, where it fails.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GRACE_MS } from '../src/fleet/fleet-outbox.js';
import { fleetOutbox } from '../src/fleet/index.js';
import { describeOutbox } from './support/outbox-conformance.js';
import { type RedisServer, redisServerMissing, startRedisServer } from './support/redis-server.js';

const missing = redisServerMissing();
/** A short claim lease, so that an attempt cut off is found within seconds. */
const LOCK_MS = 1000;

let redis: RedisServer;
let queues = 0;

if (missing !== undefined && process.env.CI) {
  describe('fleet outbox conformance', () => {
    it('needs redis-server in CI', () => {
      throw new Error(`The fleet tests need a real Redis: ${missing}`);
    });
  });
}

describe.skipIf(missing !== undefined)('fleet outbox on a real redis-server', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.close();
  });

  describeOutbox('fleetOutbox', async () => {
    const options = {
      connection: { host: redis.host, port: redis.port },
      queue: `conformance-${process.pid}-${++queues}`,
      lockMs: LOCK_MS,
      onWarning: () => undefined, // this Redis keeps nothing on disk, on purpose
    };
    return {
      outbox: fleetOutbox(options),
      reopen: () => fleetOutbox(options),
      shared: {
        cutOffFound: async (outbox) => {
          // the lease runs out, then BullMQ's stalled check (every lockMs / 2) marks the claim and takes it back
          await new Promise((resolve) => setTimeout(resolve, LOCK_MS * 2 + 500));
          // the first claim gives the server that stopped time to mark an outcome; then that time passes
          expect(await outbox.claim(5, Date.now())).toEqual([]);
          vi.setSystemTime(Date.now() + GRACE_MS + 1);
        },
      },
      cleanup: async () => undefined,
    };
  });
});
