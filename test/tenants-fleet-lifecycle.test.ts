/**
 * The life of a fleet of groups (MailerGroup with fleetTenants) across servers, on a real redis-server and a real
 * SMTP server on 127.0.0.1: messages handed to one server and sent by another, a `send()` told of a delivery made
 * elsewhere, the connections of a server with many districts, a district a server cannot open, weighted shares of
 * the hosted relay across servers, and a server killed with SIGKILL while sending.
 *
 * Without redis-server the file is skipped, except in CI, where it fails.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fleetTenants } from '../src/fleet/index.js';
import type { DeliveryReport, EmailSettingsInput, MailerGroupOptions } from '../src/index.js';
import { MailerGroup } from '../src/index.js';
import { type RedisServer, redisServerMissing, startRedisServer } from './support/redis-server.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { maxInWindow } from './support/window-count.js';

const missing = redisServerMissing();
if (missing !== undefined && process.env.CI) throw new Error(missing);

const PREFIX = 'messenger-email';
const CHILD = resolve(import.meta.dirname, 'support/tenants-fleet-child.ts');

let queues = 0;
const freshQueue = () => `tenants-lifecycle-${process.pid}-${++queues}`;
const senderOf = (id: string) => `messenger@${id}.k12.example`;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function until(test: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** How many times each subject reached the sink. */
function subjectCounts(sink: SmtpSink): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of sink.messages) counts.set(message.subject, (counts.get(message.subject) ?? 0) + 1);
  return counts;
}

/** The subjects that reached the sink more than once, with their counts. */
function duplicatesOf(sink: SmtpSink): [string, number][] {
  return [...subjectCounts(sink).entries()].filter(([, n]) => n > 1);
}

/** A child server of the fleet (test/support/tenants-fleet-child.ts) and the JSON lines it said. */
interface Child {
  readonly process: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<unknown>;
  tell(command: object): void;
}

function startChild(options: object): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    let end = stdout.indexOf('\n');
    while (end !== -1) {
      lines.push(JSON.parse(stdout.slice(0, end)) as Record<string, unknown>);
      stdout = stdout.slice(end + 1);
      end = stdout.indexOf('\n');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise((done) => child.once('exit', done));
  return {
    process: child,
    lines,
    stderr: () => stderr,
    exited,
    tell: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
  };
}

describe.skipIf(missing !== undefined)('MailerGroup with fleetTenants: servers that come and go', () => {
  let redis: RedisServer;
  let sink: SmtpSink | undefined;
  const groups: MailerGroup[] = [];
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.close();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await Promise.all(groups.splice(0).map((group) => group.close()));
    await sink?.close();
    sink = undefined;
  });

  const connection = () => ({ host: redis.host, port: redis.port });

  /** One server's group on the fleet's queue, closed after the test. */
  function server(
    queue: string,
    settings: MailerGroupOptions['settings'],
    more: Partial<MailerGroupOptions> & { prefetch?: number; lockMs?: number; port?: number } = {},
  ): MailerGroup {
    const { prefetch = 16, lockMs, port = redis.port, ...options } = more;
    const group = new MailerGroup({
      settings,
      mailer: () => ({ maxConcurrent: 3 }),
      ...options,
      fleet: fleetTenants({
        connection: { host: '127.0.0.1', port },
        queue,
        pollMs: 50,
        prefetch,
        ...(lockMs === undefined ? {} : { lockMs }),
        onWarning: () => undefined,
      }),
    });
    groups.push(group);
    return group;
  }

  /** A BullMQ handle on the fleet's queue, to look at what Redis holds; closed after the test. */
  function inspect(queue: string): Queue {
    const handle = new Queue(queue, { connection: connection(), prefix: PREFIX });
    cleanups.push(() => handle.close());
    return handle;
  }

  /** Seconds until each delayed job of the queue is due (BullMQ scores them by due time × 4096). */
  async function delayedDue(queue: string): Promise<number[]> {
    const admin = new Redis(connection());
    try {
      const scores = await admin.zrange(`${PREFIX}:${queue}:delayed`, 0, -1, 'WITHSCORES');
      return scores
        .filter((_, i) => i % 2 === 1)
        .map((score) => (Math.floor(Number(score) / 4096) - Date.now()) / 1000);
    } finally {
      admin.disconnect();
    }
  }

  const settingsFor =
    (relay: SmtpSink, perSecond: (id: string) => number) =>
    (id: string): EmailSettingsInput => ({
      defaultSenderAddress: senderOf(id),
      smtpHost: '127.0.0.1',
      smtpPort: relay.port,
      throttlePerSecond: perSecond(id),
      minutesBetweenRetries: 0,
    });

  it('sends every message handed to a server that closed at once, exactly once, from a server started after', async () => {
    const relay = await startSmtpSink();
    sink = relay;
    const queue = freshQueue();
    // each district held to 10 a second: most of its 20 messages wait, in Redis or claimed by A
    const settings = settingsFor(relay, () => 10);
    const a = server(queue, settings);
    let sentByA = 0;
    let startedOnA = 0;
    a.on('sent', () => {
      sentByA += 1;
    });
    a.on('sending', () => {
      startedOnA += 1;
    });
    const handed: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i += 1) {
      for (const id of ['d1', 'd2', 'd3']) {
        handed.push(a.enqueue(id, { to: `${id}-${i}@example.org`, subject: `${id} ${i}`, text: 'x' }));
      }
    }
    await Promise.all(handed);
    await until(() => startedOnA > 0, 'A to start sending'); // A holds claims now: they go back at its close
    await a.close();
    const atClose = relay.messages.length;
    const left = await inspect(queue).getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    const due = await delayedDue(queue);

    const b = server(queue, settings);
    let sentByB = 0;
    const errors: Error[] = [];
    b.on('sent', () => {
      sentByB += 1;
    });
    b.on('outboxError', (e) => errors.push(e.error));
    await until(() => relay.messages.length >= 60, '60 messages at the sink');
    await sleep(500); // a duplicate would arrive now
    const counts = subjectCounts(relay);
    const duplicates = duplicatesOf(relay);
    console.log(
      `handed over: 60 enqueued on A; A started ${startedOnA}, sent ${sentByA} before it closed (sink ${atClose}); left in Redis ${JSON.stringify(left)}, the delayed due in ${Math.max(0, ...due).toFixed(1)} s at most; B sent ${sentByB}; sink ${relay.messages.length} messages, ${counts.size} distinct, duplicates ${duplicates.length}`,
    );
    expect(counts.size).toBe(60);
    expect(duplicates).toEqual([]);
    expect(relay.messages).toHaveLength(60);
    expect(sentByA + sentByB).toBe(60);
    expect(sentByB).toBeGreaterThan(0);
    // A's claims went back at its close: none left to its lease; those put off for the throttle are due within
    // the district's 20 messages at 10 a second
    expect(left.active).toBe(0);
    expect((left.waiting ?? 0) + (left.prioritized ?? 0) + (left.delayed ?? 0)).toBe(60 - sentByA);
    for (const seconds of due) expect(seconds).toBeLessThanOrEqual(20 / 10 + 0.5);
    expect(errors).toEqual([]);
  }, 30_000);

  it('resolves send() on the server that accepted the message when another server delivered it', async () => {
    const relay = await startSmtpSink();
    sink = relay;
    const queue = freshQueue();
    const settings = settingsFor(relay, (id) => (id === 'blocker' ? 1 : 50));
    // B holds a backlog of district `blocker` (1 a second)
    const b = server(queue, settings, { prefetch: 8 });
    const sentByB: string[] = [];
    b.on('sent', (e) => sentByB.push(`${e.tenant}/${e.id}`));
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        b.enqueue('blocker', { to: `b${i}@example.org`, subject: `blocker ${i}`, text: 'x' }),
      ),
    );
    // A claims one message ahead (prefetch 1): a `blocker` one, whose district it cannot open yet (its settings
    // load slowly), so A claims nothing more meanwhile
    let release: (value: EmailSettingsInput | undefined) => void = () => undefined;
    let blockerAsked = false;
    const slow = new Promise<EmailSettingsInput | undefined>((done) => {
      release = done;
    });
    const a = server(
      queue,
      (id) => {
        if (id !== 'blocker') return settings(id);
        blockerAsked = true;
        return slow;
      },
      { prefetch: 1 },
    );
    cleanups.push(() => release(settings('blocker')));
    const sendingOnA: string[] = [];
    a.on('sending', (e) => sendingOnA.push(`${e.tenant}/${e.id}`));
    await until(() => blockerAsked, "A's claim of a `blocker` message");

    const started = performance.now();
    const report: DeliveryReport = await a.send(
      'd',
      { to: 'parent@example.org', subject: 'handed to A', text: 'x' },
      { id: 'snow-day' },
    );
    const ms = performance.now() - started;
    await sleep(300);
    const received = relay.messages.filter((m) => m.subject === 'handed to A');
    console.log(
      `send() on A resolved in ${Math.round(ms)} ms with ${JSON.stringify({ id: report.id, accepted: report.accepted, response: report.response })}; B sent ${sentByB.filter((s) => s.startsWith('d/')).join(', ')}; attempts started on A for d: ${sendingOnA.filter((s) => s.startsWith('d/')).length}`,
    );
    expect(received).toHaveLength(1);
    expect(sentByB).toContain('d/snow-day'); // B delivered it
    expect(sendingOnA.filter((s) => s.startsWith('d/'))).toEqual([]); // A never tried it
    expect(report.id).toBe('snow-day');
    expect(report.accepted).toEqual(['parent@example.org']);
    expect(report.messageId).toBe(received[0]?.headers.get('message-id'));
  }, 30_000);

  it('keeps the same Redis connections with 200 districts open as with one', async () => {
    const relay = await startSmtpSink();
    sink = relay;
    // a Redis of its own, so that nothing else's connections are counted
    const own = await startRedisServer();
    cleanups.push(() => own.close());
    const admin = new Redis({ host: own.host, port: own.port });
    cleanups.push(() => admin.disconnect());
    const clients = async () => {
      const list = (await admin.client('LIST')) as string;
      return list.split('\n').filter((line) => line.trim() !== '').length - 1; // less our own
    };
    const settled = async () => {
      await sleep(400); // the short-lived clients (the check of Redis's settings, the stream's last id) are gone
      return clients();
    };
    const baseline = await clients();
    const queue = freshQueue();
    const group = server(
      queue,
      settingsFor(relay, () => 50),
      { port: own.port },
    );
    cleanups.push(() => group.close()); // before its Redis is stopped
    let opened = 0;
    group.on('tenantOpened', () => {
      opened += 1;
    });
    const message = (id: string) => ({ to: `${id}@example.org`, subject: id, text: 'x' });
    await group.send('d0', message('d0'));
    const withOne = await settled();
    await Promise.all(Array.from({ length: 199 }, (_, i) => group.send(`d${i + 1}`, message(`d${i + 1}`))));
    const withAll = await settled();
    const open = group.stats().open;
    await group.close();
    let afterClose = await clients();
    for (let i = 0; i < 30 && afterClose > baseline; i += 1) {
      await sleep(100);
      afterClose = await clients();
    }
    console.log(
      `Redis clients of one server: ${withOne} with 1 district, ${withAll} with ${open} districts open (${opened} opened, ${relay.messages.length} sent); before ${baseline}, after close ${afterClose}`,
    );
    expect(relay.messages).toHaveLength(200);
    expect(open).toBe(200);
    expect(withAll).toBeGreaterThanOrEqual(withOne);
    expect(withAll).toBeLessThanOrEqual(withOne + 1);
    expect(afterClose).toBe(baseline);
  }, 30_000);

  it('keeps the messages of a district this server cannot open in Redis, and says which district', async () => {
    const relay = await startSmtpSink();
    sink = relay;
    const queue = freshQueue();
    const a = server(
      queue,
      settingsFor(relay, () => 1),
    );
    const errorsOnA: string[] = [];
    a.on('outboxError', (e) => errorsOnA.push(`${e.tenant}: ${e.error.message}`));
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        a.enqueue('x', { to: `x${i}@example.org`, subject: `x-${i}`, text: 'x' }, { id: `x-${i}` }),
      ),
    );
    await a.close();
    const sentByA = relay.messages.length; // at 1 a second, A may have sent the first
    const handle = inspect(queue);
    const atClose = await handle.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    // A gave every message it held back at its close (those put off for the throttle due within 5 s at 1 a second)
    expect({ ...atClose, errorsOnA }).toMatchObject({ waiting: 0, active: 0, errorsOnA: [] });
    expect((atClose.prioritized ?? 0) + (atClose.delayed ?? 0)).toBe(5 - sentByA);
    for (const seconds of await delayedDue(queue)) expect(seconds).toBeLessThanOrEqual(5.5);

    const settings = settingsFor(relay, () => 50);
    const b = server(queue, (id) => (id === 'x' ? undefined : settings(id)));
    const errors: { tenant: string; error: Error }[] = [];
    b.on('outboxError', (e) => errors.push({ tenant: e.tenant, error: e.error }));
    let sendingOnB = 0;
    b.on('sending', () => {
      sendingOnB += 1;
    });
    const left = 5 - sentByA;
    await until(() => errors.length >= left, `${left} outboxError events`, 10_000);
    const dueAfter = await delayedDue(queue);
    const delayed = await handle.getDelayed();
    await sleep(500);
    const counts = await handle.getJobCounts(
      'waiting',
      'prioritized',
      'active',
      'delayed',
      'completed',
      'failed',
    );
    console.log(
      `district B cannot open: A sent ${sentByA} of 5, left ${JSON.stringify(atClose)} at its close; B reported ${errors.length} outboxError(s) (${errors.map((e) => e.tenant).join(', ')}): ${errors[0]?.error.message}; Redis holds ${JSON.stringify(counts)}, due again in ${Math.min(...dueAfter).toFixed(1)} s at the soonest`,
    );
    expect(errors.every((e) => e.tenant === 'x')).toBe(true);
    expect(errors[0]?.error.name).toBe('FleetUnavailableError');
    expect(errors[0]?.error.message).toContain('"x"');
    expect(sendingOnB).toBe(0);
    expect(relay.messages).toHaveLength(sentByA);
    const sent = new Set(relay.messages.map((m) => m.subject));
    const kept = Array.from({ length: 5 }, (_, i) => `x-${i}`).filter((id) => !sent.has(id));
    expect(delayed.map((job) => job.id).sort()).toEqual(kept.map((id) => `t.x.${id}`));
    expect(counts).toMatchObject({
      delayed: left,
      waiting: 0,
      prioritized: 0,
      active: 0,
      completed: 0,
      failed: 0,
    });
    expect(errors).toHaveLength(left); // each was tried once: the next try is 30 s later
    for (const seconds of dueAfter) expect(seconds).toBeGreaterThan(20);
  }, 30_000);

  it('gives districts their weighted shares of the hosted relay across two servers', async () => {
    const RELAY = 30;
    const relay = await startSmtpSink();
    sink = relay;
    const queue = freshQueue();
    const settings = settingsFor(relay, () => 50);
    const options: Partial<MailerGroupOptions> = {
      policy: { hostedSmtpHosts: ['127.0.0.1'] },
      hostedRelay: { perSecond: RELAY, connections: 4 },
      share: (id) => (id === 'p' ? 2 : 1),
    };
    // the turns hold over windows long against what the servers claim ahead (prefetch) and their districts take
    const one = server(queue, settings, { ...options, prefetch: 4 });
    const two = server(queue, settings, { ...options, prefetch: 4 });
    const handed: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i += 1) {
      for (const id of ['p', 'q']) {
        const group = i % 2 ? one : two;
        handed.push(group.enqueue(id, { to: `${id}${i}@example.org`, subject: `${id} ${i}`, text: 'x' }));
      }
    }
    await Promise.all(handed);
    await until(() => relay.mailFroms.length > 0, 'the first start');
    const from = (relay.mailFroms[0]?.at ?? 0) + 1000;
    const to = from + 8000;
    await until(() => performance.now() > to + 200, 'the window to pass', 10_000);
    const froms = [...relay.mailFroms];
    const within = (id: string) =>
      froms.filter((f) => f.from === senderOf(id) && f.at >= from && f.at < to).length;
    const [p, q] = [within('p'), within('q')];
    const admin = new Redis(connection());
    const order = await admin.hgetall(`${PREFIX}:${queue}:fair-order`);
    admin.disconnect();
    console.log(
      `weighted shares across two servers, relay ${RELAY}/s: 8 s steady: p (share 2) ${p}, q (share 1) ${q}, ratio ${(p / q).toFixed(2)}; max ${maxInWindow(froms.map((f) => f.at))} starts in a sliding second; fair order's tags after 300 + 300 hand-overs: p ${order['t:p']} (150 without moves), q ${order['t:q']} (300 without moves), virtual time ${order.v}`,
    );
    expect(maxInWindow(froms.map((f) => f.at))).toBeLessThanOrEqual(RELAY);
    expect(p + q).toBeGreaterThanOrEqual(RELAY * 8 * 0.85);
    expect(p / q).toBeGreaterThanOrEqual(2 * 0.85);
    expect(p / q).toBeLessThanOrEqual(2 * 1.15);
  }, 30_000);

  it('sends every message of a server killed with SIGKILL, its attempts cut off reported unknownOutcome', async () => {
    const LOCK_MS = 2000;
    const relay = await startSmtpSink();
    sink = relay;
    const queue = freshQueue();
    // one attempt of each district never gets its reply: under way when the server is killed
    const stalled = ['a-2', 'b-2'];
    for (const id of stalled) relay.failNext(`${id}@example.org`, { type: 'stall', stage: 'data' });
    const child = startChild({
      redisPort: redis.port,
      queue,
      smtpPort: relay.port,
      perSecond: 10,
      lockMs: LOCK_MS,
      prefetch: 8,
    });
    cleanups.push(async () => {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
      await child.exited;
    });
    const said = (key: string) => child.lines.filter((line) => line[key] !== undefined).map((l) => l[key]);
    await until(() => said('ready').length > 0, `the child to start (${child.stderr()})`, 30_000);
    for (const tenant of ['a', 'b']) child.tell({ enqueue: { tenant, count: 30 } });
    await until(() => said('enqueued').length === 2, 'the child to hand over 60 messages');
    expect(child.lines.filter((l) => l.enqueued !== undefined).map((l) => l.ok)).toEqual([30, 30]);
    // under way at the relay: their message sent, its reply never coming
    await until(
      () => stalled.every((id) => (relay.attempts.get(`${id}@example.org`) ?? 0) > 0),
      'the stalled attempts to be under way',
    );
    await until(() => relay.messages.length >= 12, 'the child to deliver a few');
    child.process.kill('SIGKILL');
    await child.exited;
    const atKill = relay.messages.length;
    // what the child held in Redis at its death (claimed ahead, or an attempt under way): the attempts under way are
    // those it started and whose outcome Redis has not recorded (its last `sent` lines may not have been written)
    const held = (await inspect(queue).getActive()).map((job) => String(job.id).replace(/^t\.[^.]+\./, ''));
    const sentByChild = new Set(said('sent'));
    const underWay = (said('sending') as string[]).filter((id) => held.includes(id));

    const survivor = server(
      queue,
      settingsFor(relay, () => 50),
      { lockMs: LOCK_MS },
    );
    const cutOff: string[] = [];
    const otherFailures: string[] = [];
    const cancelled: string[] = [];
    survivor.on('failed', (e) => (e.unknownOutcome === true ? cutOff : otherFailures).push(e.id));
    survivor.on('cancelled', (e) => cancelled.push(e.id));
    const expected = ['a', 'b'].flatMap((t) => Array.from({ length: 30 }, (_, i) => `${t}-${i}`));
    const missingAtSink = () => {
      const counts = subjectCounts(relay);
      return expected.filter((id) => (counts.get(id) ?? 0) === 0);
    };
    await until(() => missingAtSink().length === 0, 'every message at the sink at least once', 25_000);
    await sleep(500); // a duplicate would arrive now
    const duplicates = duplicatesOf(relay);
    console.log(
      `SIGKILL: the child said sent ${sentByChild.size} (sink ${atKill}); it held ${held.length} claim(s) in Redis at its kill, ${underWay.length} of them attempts under way (${underWay.join(', ')}); the survivor reported ${cutOff.length} cut off (unknownOutcome: ${[...cutOff].sort().join(', ')}), ${otherFailures.length} other failures, ${cancelled.length} cancelled; sink ${relay.messages.length} messages, ${subjectCounts(relay).size} distinct, duplicates ${duplicates.length} (${duplicates.map(([s, n]) => `${s}×${n}`).join(', ') || 'none'})`,
    );
    expect(missingAtSink()).toEqual([]);
    expect([...subjectCounts(relay).keys()].filter((s) => !expected.includes(s))).toEqual([]);
    expect(underWay).toEqual(expect.arrayContaining(stalled));
    for (const id of underWay) expect(cutOff, `${id} was under way at the kill`).toContain(id);
    for (const id of cutOff) expect(held, `${id} reported cut off was held by the child`).toContain(id);
    for (const [id] of duplicates) expect(cutOff, `${id} sent twice was reported cut off`).toContain(id);
    expect(cancelled).toEqual([]);
    expect(otherFailures).toEqual([]);
  }, 40_000);
});
