/**
 * fleetPermits against a real redis-server and a real SMTP server, both on 127.0.0.1: several Mailers in one
 * process, then three real processes, share one throttle, counted where the relay counts it (the MAIL FROM times
 * the SMTP server saw). The hard guarantee (at most R in any sliding second) is asserted exactly; the rate loosely.
 * Without redis-server the file is skipped, except in CI, where it fails.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fleetPermits } from '../src/fleet/index.js';
import { TAKE_SCRIPT } from '../src/fleet/scripts.js';
import {
  FleetUnavailableError,
  isMailerError,
  Mailer,
  type OutboxErrorEvent,
  type PermitsHost,
  type StartPermits,
} from '../src/index.js';
import { type FleetChild, startFleetChild } from './support/fleet-children.js';
import { sinkSettings, sinkTransport } from './support/harness.js';
import { type RedisServer, redisServerMissing, startRedisServer } from './support/redis-server.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { achievedRate, maxInWindow } from './support/window-count.js';

const missing = redisServerMissing();
/** Longest wait for one step on a slow, busy machine. */
const STEP_MS = 30_000;

let keys = 0;
/** A key no other test uses. */
const freshKey = () => `messenger-email:test:${process.pid}:${++keys}`;

/** A host for permits used without a Mailer: real timers, and a promise for the next wake. */
function testHost(): PermitsHost & { woken(): Promise<void> } {
  let wake: (() => void) | undefined;
  return {
    now: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    wake: () => wake?.(),
    woken: () =>
      new Promise<void>((resolve) => {
        wake = resolve;
      }),
  };
}

if (missing !== undefined && process.env.CI) {
  describe('fleetPermits', () => {
    it('needs redis-server in CI', () => {
      throw new Error(`The fleet tests need a real Redis: ${missing}`);
    });
  });
} else if (missing !== undefined) {
  console.warn(`test/fleet-permits.test.ts skipped: ${missing}`);
}

describe('fleetPermits options', () => {
  it('refuses an empty key, a lease under a second and a client of another kind, naming the option', () => {
    const connection = { lazyConnect: true };
    expect(() => fleetPermits({ connection, key: '' })).toThrow(/key must be a non-empty string/);
    expect(() => fleetPermits({ connection, key: 'k', leaseMs: 500 })).toThrow(
      /leaseMs .* at least 1000 \(received "500"\)/,
    );
    const foreign = { defineCommand: () => undefined } as unknown as Redis;
    expect(() => fleetPermits({ connection: foreign, key: 'k' })).toThrow(
      /a Cluster, or a client of another copy/,
    );
  });
});

describe.skipIf(missing !== undefined)('fleetPermits', () => {
  let redis: RedisServer;
  let sink: SmtpSink;
  const closing: (() => Promise<unknown>)[] = [];
  const children: FleetChild[] = [];

  beforeAll(async () => {
    [redis, sink] = await Promise.all([startRedisServer(), startSmtpSink()]);
  });

  afterAll(async () => {
    await Promise.all([redis?.close(), sink?.close()]);
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
    for (const close of closing.splice(0)) await close();
    if (!redis.running) await redis.restart();
    sink.reset();
  });

  /** A Mailer with its own fleetPermits on `key`, aimed at the sink. */
  function fleetMailer(key: string, perSecond: number, errors: OutboxErrorEvent[] = []): Mailer {
    const mailer = new Mailer({
      settings: sinkSettings(sink, { throttlePerSecond: perSecond }),
      transport: sinkTransport(sink),
      permits: fleetPermits({ connection: { host: redis.host, port: redis.port }, key }),
    });
    mailer.on('outboxError', (e) => errors.push(e));
    closing.push(() => mailer.close());
    return mailer;
  }

  function sendAll(mailer: Mailer, name: string, count: number) {
    return Array.from({ length: count }, (_, i) =>
      mailer.send({ to: `${name}-${i}@example.org`, subject: `${name} ${i}`, text: 'x' }),
    );
  }

  it('holds R starts a second across several Mailers in one process, at close to R in all', async () => {
    const key = freshKey();
    const mailers = [0, 1, 2].map(() => fleetMailer(key, 10));
    const callsBefore = await redis.scriptCalls();
    await Promise.all(mailers.flatMap((mailer, m) => sendAll(mailer, `m${m}`, 15)));
    const calls = (await redis.scriptCalls()) - callsBefore;
    const times = sink.mailFromTimes;
    console.log(
      `3 Mailers, R = 10: ${times.length} MAIL FROM, max ${maxInWindow(times)} in a sliding second, ${achievedRate(times).toFixed(2)} a second, ${(calls / times.length).toFixed(2)} Redis calls a message`,
    );
    expect(times).toHaveLength(45);
    expect(maxInWindow(times)).toBeLessThanOrEqual(10);
    expect(achievedRate(times)).toBeGreaterThanOrEqual(8);
  });

  it.each([
    [10, 15],
    [100, 100],
  ])('holds R = %i across three processes, at 0.8 R or more in all', async (perSecond, each) => {
    const key = freshKey();
    const fleet = [0, 1, 2].map((p) =>
      startFleetChild({
        mode: 'send',
        name: `p${p}`,
        redisPort: redis.port,
        smtpPort: sink.port,
        key,
        perSecond,
        count: each,
      }),
    );
    children.push(...fleet);
    await Promise.all(fleet.map((child) => child.until((line) => line.ready === true, 'ready')));
    const callsBefore = await redis.scriptCalls();
    for (const child of fleet) child.process.stdin.write('go\n');
    const sent = await Promise.all(fleet.map((child) => child.until((line) => 'sent' in line, 'sent')));
    const calls = (await redis.scriptCalls()) - callsBefore;
    const times = sink.mailFromTimes;
    console.log(
      `3 processes, R = ${perSecond}: ${times.length} MAIL FROM, max ${maxInWindow(times)} in a sliding second, ${achievedRate(times).toFixed(2)} a second, ${(calls / times.length).toFixed(2)} Redis calls a message`,
    );
    expect(sent.map((line) => line.sent)).toEqual([each, each, each]);
    expect(times).toHaveLength(3 * each);
    expect(maxInWindow(times)).toBeLessThanOrEqual(perSecond);
    expect(achievedRate(times)).toBeGreaterThanOrEqual(0.8 * perSecond);
    expect(fleet.flatMap((child) => child.lines.filter((line) => 'outboxError' in line))).toEqual([]);
  });

  it('reports typed errors while Redis is down, then delivers the rest, still at most R a second', async () => {
    const key = freshKey();
    const errors: OutboxErrorEvent[] = [];
    const mailers = [0, 1].map(() => fleetMailer(key, 10, errors));
    const sends = mailers.flatMap((mailer, m) => sendAll(mailer, `down${m}`, 20));
    await sink.waitForMessages(12, STEP_MS);
    await redis.stop('SIGKILL');
    const stoppedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const sentWhileDown = sink.messages.length;
    await redis.restart();
    const downMs = performance.now() - stoppedAt;
    const reports = await Promise.all(sends);
    const times = sink.mailFromTimes;
    console.log(
      `Redis down for ${Math.round(downMs)} ms: ${errors.length} outboxError events; ${times.length} MAIL FROM, max ${maxInWindow(times)} in a sliding second`,
    );
    expect(reports).toHaveLength(40);
    expect(sink.messages.length).toBe(40);
    expect(sentWhileDown).toBeLessThan(40);
    expect(errors.length).toBeGreaterThan(0);
    for (const { error } of errors) {
      expect(error).toBeInstanceOf(FleetUnavailableError);
      expect(isMailerError(error, 'FLEET_UNAVAILABLE')).toBe(true);
      expect(error.message).toContain(`127.0.0.1:${redis.port}`);
    }
    expect(maxInWindow(times)).toBeLessThanOrEqual(10);
  });

  it('rejects take() with FleetUnavailableError naming host and port, never the password', async () => {
    const port = redis.port;
    await redis.stop('SHUTDOWN');
    const permits = fleetPermits({
      connection: { host: '127.0.0.1', port, password: 'Hunter2-secret', connectTimeout: 500 },
      key: freshKey(),
    });
    closing.push(() => permits.close());
    permits.bind(testHost());
    permits.setRate(5);
    const failure = await Promise.resolve(permits.take(3)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(FleetUnavailableError);
    const text = `${(failure as Error).message} ${String((failure as Error).cause)}`;
    expect(text).toContain(`127.0.0.1:${port}`);
    expect(text).not.toContain('Hunter2');
  });

  it('frees a released place at once, and a committed one a window after its start', async () => {
    const permits = fleetPermits({ connection: { host: redis.host, port: redis.port }, key: freshKey() });
    closing.push(() => permits.close());
    const host = testHost();
    permits.bind(host);
    permits.setRate(2);
    const [first, second, ...more] = await Promise.resolve(permits.take(3));
    expect(more).toEqual([]); // two granted of three: the window holds two
    const woken = host.woken();
    second?.release(); // never started: its place frees at once, and the host is told
    await woken;
    const [again] = await Promise.resolve(permits.take(1));
    expect(again).toBeDefined();
    first?.started();
    again?.started();
    const startedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the commits reach Redis
    expect(await Promise.resolve(permits.take(1))).toEqual([]);
    let granted = await Promise.resolve(permits.take(1));
    while (granted.length === 0) {
      await host.woken();
      granted = await Promise.resolve(permits.take(1));
    }
    const freedAfter = performance.now() - startedAt;
    for (const permit of granted) permit.release();
    expect(freedAfter).toBeGreaterThanOrEqual(1000);
    expect(freedAfter).toBeLessThan(3000);
  });

  it('grants the places of a take run twice once (a command resent after a lost connection)', async () => {
    const client = new Redis({ host: redis.host, port: redis.port });
    closing.push(() => client.quit());
    const key = freshKey();
    const take = ['5', '3', '1', '60000', 'client:', '0']; // limit, n, want, lease, prefix, first
    expect(await client.eval(TAKE_SCRIPT, 1, key, ...take)).toEqual([3, 0, 0]);
    expect(await client.eval(TAKE_SCRIPT, 1, key, ...take)).toEqual([3, 0, 0]);
    expect(await client.zrange(key, 0, -1)).toEqual(['client:0', 'client:1', 'client:2']);
    const other = ['5', '3', '1', '60000', 'other:', '0'];
    expect(await client.eval(TAKE_SCRIPT, 1, key, ...other)).toEqual([2, 1000, 1]); // full: waits on reservations
  });

  it('frees the places of a process killed with SIGKILL after the lease, and not before', async () => {
    const key = freshKey();
    const leaseMs = 3000;
    const holder = startFleetChild({
      mode: 'hold',
      redisPort: redis.port,
      key,
      perSecond: 5,
      count: 5,
      leaseMs,
    });
    children.push(holder);
    expect((await holder.until((line) => 'held' in line, 'held')).held).toBe(5);

    const permits: StartPermits = fleetPermits({ connection: { host: redis.host, port: redis.port }, key });
    closing.push(() => permits.close());
    const host = testHost();
    permits.bind(host);
    permits.setRate(5);
    expect(await permits.take(1)).toEqual([]); // the window is full of the holder's reservations
    // alive past its lease: the holder renews it, so its places stay held
    await new Promise((resolve) => setTimeout(resolve, leaseMs * 1.5));
    const stillFull = await Promise.resolve(permits.take(1));
    for (const permit of stillFull) permit.release();
    expect(stillFull).toEqual([]);

    holder.process.kill('SIGKILL');
    await holder.exited;
    const killedAt = performance.now();
    let granted = await Promise.resolve(permits.take(1));
    while (granted.length === 0) {
      await host.woken();
      granted = await Promise.resolve(permits.take(1));
    }
    const freedAfter = performance.now() - killedAt;
    for (const permit of granted) permit.release();
    console.log(
      `lease ${leaseMs} ms: a killed process's places freed ${Math.round(freedAfter)} ms after the kill`,
    );
    expect(freedAfter).toBeGreaterThan(leaseMs * (2 / 3));
    expect(freedAfter).toBeLessThan(leaseMs + 1000 + 5000);
  });
});
