/**
 * The benchmark cases. Each runs in a fresh process (see worker.ts) against the sink process, with the library as
 * users get it (the built dist/), side by side with plain nodemailer (and Bottleneck) doing the same job.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { fleetEvents, fleetOutbox, fleetPermits } from '../dist/fleet.js';
import {
  Mailer,
  type MailerEvents,
  memoryOutbox,
  smtpTransport,
  spoolOutbox,
  type Transport,
} from '../dist/index.js';
import { now, sleep } from './lib.js';

const FROM = 'messenger@district.k12.us';
const small = (i: number) => ({
  to: `parent${i}@example.org`,
  subject: `Attendance notice ${i}`,
  text: `Your student was marked absent in period ${i % 7}. Please call the school office if this is a mistake.`,
});

function settings(port: number, extra: Record<string, unknown> = {}) {
  return {
    defaultSenderAddress: FROM,
    smtpHost: '127.0.0.1',
    smtpPort: port,
    throttlePerSecond: 999,
    ...extra,
  };
}

/** A transport that notes when each attempt starts, over one shared SMTP pool that outlives configure(). */
function recordingTransport(inner: Transport, starts: number[]): Transport {
  return {
    send(mail, signal, progress) {
      starts.push(now());
      return inner.send(mail, signal, progress);
    },
  };
}

function plainPool(port: number, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port,
    ignoreTLS: true,
    maxConnections: 5,
    maxMessages: 1000, // the same pool settings as the Mailer's SMTP transport
    logger: false,
    ...extra,
  });
}

/** A nodemailer logger that notes when the client writes MAIL FROM. */
function mailFromLogger(starts: number[]) {
  const note = (_data: unknown, message: unknown) => {
    if (typeof message === 'string' && message.startsWith('MAIL FROM')) starts.push(now());
  };
  const skip = () => undefined;
  return { trace: skip, debug: note, info: skip, warn: skip, error: skip, fatal: skip };
}

async function warmPlain(transport: ReturnType<typeof plainPool>, count = 10) {
  await Promise.all(Array.from({ length: count }, (_, i) => transport.sendMail({ from: FROM, ...small(i) })));
}

/** Case 1: when attempts start at a target rate. */
export async function throttle(args: {
  variant: 'ours' | 'pool-rateLimit' | 'bottleneck';
  port: number;
  perSecond: number;
  count: number;
}) {
  const { variant, port, perSecond, count } = args;
  const starts: number[] = [];
  if (variant === 'ours') {
    const inner = smtpTransport(settings(port) as never, { maxConnections: 5 });
    const mailer = new Mailer({
      settings: settings(port),
      transport: () => recordingTransport(inner, starts),
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => mailer.send(small(i))));
    mailer.configure(settings(port, { throttlePerSecond: perSecond }));
    await sleep(1100);
    starts.length = 0;
    const t0 = now();
    await Promise.all(Array.from({ length: count }, (_, i) => mailer.send(small(i))));
    const elapsed = now() - t0;
    await mailer.close();
    inner.close?.();
    return { starts, elapsed };
  }
  if (variant === 'pool-rateLimit') {
    const transport = plainPool(port, {
      rateLimit: perSecond,
      rateDelta: 1000,
      debug: true,
      logger: mailFromLogger(starts),
    });
    await warmPlain(transport);
    await sleep(1100);
    starts.length = 0;
    const t0 = now();
    await Promise.all(
      Array.from({ length: count }, (_, i) => transport.sendMail({ from: FROM, ...small(i) })),
    );
    const elapsed = now() - t0;
    transport.close();
    return { starts, elapsed };
  }
  const transport = plainPool(port);
  await warmPlain(transport);
  const limiter = new Bottleneck({ minTime: 1000 / perSecond, maxConcurrent: 5 });
  const t0 = now();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limiter.schedule(() => {
        starts.push(now());
        return transport.sendMail({ from: FROM, ...small(i) });
      }),
    ),
  );
  const elapsed = now() - t0;
  transport.close();
  return { starts, elapsed };
}

const EVENTS: (keyof MailerEvents)[] = [
  'queued',
  'sending',
  'sent',
  'failed',
  'cancelled',
  'attachmentsDropped',
  'settingsChanged',
  'idle',
];

/** Cases 2 and 5: many small messages as fast as the throttle (999) allows; messages a second and CPU per message. */
export async function throughput(args: {
  variant: 'ours' | 'plain' | 'plain-paced' | 'plain-limited';
  port: number;
  count: number;
  listeners?: number;
}) {
  const { variant, port, count } = args;
  let send: (i: number) => Promise<unknown>;
  let close: () => Promise<void> | void;
  if (variant === 'plain-limited') {
    // Plain nodemailer doing the Mailer's job by hand: at most 5 messages in flight (one per connection) and no more
    // than 999 a second, with a lean pacer (a timer only when the next start is not due yet).
    const transport = plainPool(port);
    await Promise.all(Array.from({ length: 50 }, (_, i) => transport.sendMail({ from: FROM, ...small(i) })));
    global.gc?.();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    let next = 0;
    let running = 0;
    let done = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      const pump = () => {
        timer = undefined;
        while (running < 5 && next < count) {
          const dueAt = t0 + (next * 1000) / 999;
          const wait = dueAt - now();
          if (wait > 0) {
            timer ??= setTimeout(pump, wait);
            return;
          }
          running += 1;
          next += 1;
          transport.sendMail({ from: FROM, ...small(next) }).then(() => {
            running -= 1;
            done += 1;
            if (done === count) resolve();
            else if (timer === undefined) pump();
          });
        }
      };
      pump();
    });
    const elapsed = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    transport.close();
    return { perSecond: (count * 1000) / elapsed, cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / count };
  }
  if (variant === 'plain-paced') {
    // Plain nodemailer fed at the Mailer's pace (999 a second, released every 10 ms): what a message costs at that rate.
    const transport = plainPool(port);
    await Promise.all(Array.from({ length: 50 }, (_, i) => transport.sendMail({ from: FROM, ...small(i) })));
    global.gc?.();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const sent: Promise<unknown>[] = [];
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(count, Math.floor(((now() - t0) * 999) / 1000) + 1);
        while (sent.length < due) sent.push(transport.sendMail({ from: FROM, ...small(sent.length) }));
        if (sent.length >= count) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    await Promise.all(sent);
    const elapsed = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    transport.close();
    return { perSecond: (count * 1000) / elapsed, cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / count };
  }
  if (variant === 'ours') {
    const mailer = new Mailer({ settings: settings(port), maxConcurrent: 5 });
    for (const event of EVENTS) {
      for (let l = 0; l < (args.listeners ?? 0); l += 1) mailer.on(event, () => undefined);
    }
    send = (i) => mailer.send(small(i));
    close = () => mailer.close();
  } else {
    const transport = plainPool(port);
    send = (i) => transport.sendMail({ from: FROM, ...small(i) });
    close = () => transport.close();
  }
  await Promise.all(Array.from({ length: 50 }, (_, i) => send(i)));
  await sleep(1100); // the throttle's window empties
  global.gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await Promise.all(Array.from({ length: count }, (_, i) => send(i)));
  const elapsed = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await close();
  return { perSecond: (count * 1000) / elapsed, cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / count };
}

/** Case 3: one message with a big attachment; peak RSS above the idle baseline. */
export async function attachment(args: {
  variant: 'ours' | 'plain';
  mode: 'path' | 'stream';
  port: number;
  file: string;
}) {
  const { variant, mode, port, file } = args;
  const spec = mode === 'path' ? { path: file } : undefined;
  let send: (big: boolean) => Promise<unknown>;
  let close: () => Promise<void> | void;
  if (variant === 'ours') {
    const mailer = new Mailer({ settings: settings(port, { allowAttachments: true }) });
    send = (big) =>
      mailer.send({
        ...small(0),
        attachments: big
          ? [{ filename: 'video.mp4', ...(spec ?? { content: () => createReadStream(file) }) }]
          : [{ filename: 'note.txt', content: 'warm-up' }],
      });
    close = () => mailer.close();
  } else {
    const transport = plainPool(port);
    send = (big) =>
      transport.sendMail({
        from: FROM,
        ...small(0),
        attachments: big
          ? [{ filename: 'video.mp4', ...(spec ?? { content: createReadStream(file) }) }]
          : [{ filename: 'note.txt', content: 'warm-up' }],
      });
    close = () => transport.close();
  }
  await send(false);
  for (let i = 0; i < 3; i += 1) {
    global.gc?.();
    await sleep(50);
  }
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const t0 = now();
  await send(true);
  const elapsed = now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  await close();
  return {
    baselineMb: baseline / 2 ** 20,
    peakAboveMb: (peak - baseline) / 2 ** 20,
    seconds: elapsed / 1000,
  };
}

/** Case 4: a deep queue at throttle 1; heap per queued message, enqueue rate, heap after close. */
export async function queue(args: { variant: 'ours' | 'plain'; port: number; count: number }) {
  const { variant, port, count } = args;
  const gc = () => {
    for (let i = 0; i < 4; i += 1) global.gc?.();
  };
  const messages = Array.from({ length: count }, (_, i) => small(i));
  // Warm-up: a first small round compiles the code paths, so the baseline holds the compiled code and the heap
  // after close() shows what the queue keeps, not what V8 keeps of the library's code.
  if (variant === 'ours') {
    const warm = new Mailer({ settings: settings(port, { throttlePerSecond: 1 }) });
    for (let i = 0; i < 2000; i += 1) warm.send(small(i)).catch(() => undefined);
    await warm.close();
  } else {
    const warm = plainPool(port, { rateLimit: 1, rateDelta: 1000 });
    for (let i = 0; i < 2000; i += 1) warm.sendMail({ from: FROM, ...small(i) }).catch(() => undefined);
    warm.close();
  }
  await sleep(100);
  gc();
  const before = process.memoryUsage().heapUsed;
  let enqueue: (m: (typeof messages)[number]) => void;
  let close: () => Promise<void> | void;
  let mailer: Mailer | undefined;
  let transport: ReturnType<typeof plainPool> | undefined;
  if (variant === 'ours') {
    mailer = new Mailer({ settings: settings(port, { throttlePerSecond: 1 }) });
    const m = mailer;
    enqueue = (message) => {
      m.send(message).catch(() => undefined);
    };
    close = () => m.close();
  } else {
    transport = plainPool(port, { rateLimit: 1, rateDelta: 1000 });
    const t = transport;
    enqueue = (message) => {
      t.sendMail({ from: FROM, ...message }).catch(() => undefined);
    };
    close = () => t.close();
  }
  const t0 = now();
  for (const message of messages) enqueue(message);
  const elapsed = now() - t0;
  gc();
  const queued = process.memoryUsage().heapUsed;
  await close();
  mailer = undefined;
  transport = undefined;
  await sleep(200);
  gc();
  await sleep(50);
  gc();
  const after = process.memoryUsage().heapUsed;
  return {
    enqueuePerSecond: (count * 1000) / elapsed,
    bytesPerMessage: (queued - before) / count,
    heapBeforeMb: before / 2 ** 20,
    heapAfterMb: after / 2 ** 20,
    afterVsBefore: after / before,
    keep: messages.length,
  };
}

/** What a spool directory takes on disk, walked like `du`: bytes of its files, and blocks allocated for them. */
async function diskUsage(dir: string): Promise<{ files: number; bytes: number; allocated: number }> {
  let files = 0;
  let bytes = 0;
  let allocated = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const info = await lstat(path);
    allocated += info.blocks * 512;
    if (entry.isDirectory()) {
      const inner = await diskUsage(path);
      files += inner.files;
      bytes += inner.bytes;
      allocated += inner.allocated;
    } else {
      files += 1;
      bytes += info.size;
    }
  }
  return { files, bytes, allocated };
}

/** A transport that refuses at once, retryably: messages stay in the outbox, waiting, and nothing is sent. */
const refusing: Transport = {
  send: () => Promise.reject(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' })),
};

/** Settings under which a Mailer sends (nearly) nothing: one start a second, retries an hour apart. */
const holding = (port: number) => settings(port, { throttlePerSecond: 1, minutesBetweenRetries: 60 });

const outboxOf = (kind: 'memory' | 'spool', dir: string) =>
  kind === 'spool' ? spoolOutbox(dir) : memoryOutbox();

/**
 * Case 6a: throughput through the spool or the in-memory outbox, the same job as case 2 (`count` small messages
 * handed to send() at once, throttle 999, 5 connections), stores included. The rate is judged at the sink.
 */
export async function spoolThroughput(args: {
  outbox: 'memory' | 'spool';
  port: number;
  count: number;
  dir: string;
}) {
  const { outbox, port, count, dir } = args;
  const mailer = new Mailer({ settings: settings(port), outbox: outboxOf(outbox, dir), maxConcurrent: 5 });
  await Promise.all(Array.from({ length: 50 }, (_, i) => mailer.send(small(i))));
  await sleep(1100); // the throttle's window empties
  const t0 = now();
  await Promise.all(Array.from({ length: count }, (_, i) => mailer.send(small(i))));
  const elapsed = now() - t0;
  await mailer.close();
  await rm(dir, { recursive: true, force: true });
  return { senderPerSecond: (count * 1000) / elapsed };
}

/**
 * Case 6b: durable enqueue: `count` small messages handed to enqueue() at once; the time until every promise
 * resolved (for the spool: each message's change appended to the journal and flushed with fdatasync). Nothing is
 * sent meanwhile (one start a second to a transport that refuses). With `keep`, the spool stays for case 6c, and
 * its size on disk is measured.
 */
export async function spoolEnqueue(args: {
  outbox: 'memory' | 'spool';
  port: number;
  count: number;
  dir: string;
  keep?: boolean;
}) {
  const { outbox, port, count, dir } = args;
  const mailer = new Mailer({
    settings: holding(port),
    outbox: outboxOf(outbox, dir),
    transport: () => refusing,
  });
  const messages = Array.from({ length: count }, (_, i) => small(i));
  const t0 = now();
  await Promise.all(messages.map((message) => mailer.enqueue(message)));
  const elapsed = now() - t0;
  // the spool's close() writes its journal into one record file per message: the deferred part of each store
  const t1 = now();
  await mailer.close();
  const closeSeconds = (now() - t1) / 1000;
  const disk = outbox === 'spool' ? await diskUsage(dir) : { files: 0, bytes: 0, allocated: 0 };
  if (args.keep !== true) await rm(dir, { recursive: true, force: true });
  return { perSecond: (count * 1000) / elapsed, closeSeconds, ...disk };
}

/**
 * Case 6c: a new process resumes a spool of small messages (left by case 6b): seconds for resume(), and the heap
 * it keeps per message after GC (heap after resume() minus before, both after GC, divided by the count). Nothing
 * is sent meanwhile (one start a second to a transport that refuses), so this is the load alone.
 */
export async function spoolResume(args: { port: number; dir: string; warmDir: string }) {
  const { port, dir, warmDir } = args;
  const gc = () => {
    for (let i = 0; i < 4; i += 1) global.gc?.();
  };
  // Warm-up: a small spool stored and resumed once compiles the code paths, so the baseline holds the compiled
  // code and the difference is what the loaded messages keep.
  const writer = new Mailer({
    settings: holding(port),
    outbox: spoolOutbox(warmDir),
    transport: () => refusing,
  });
  await Promise.all(Array.from({ length: 2000 }, (_, i) => writer.enqueue(small(i))));
  await writer.close();
  const warm = new Mailer({
    settings: holding(port),
    outbox: spoolOutbox(warmDir),
    transport: () => refusing,
  });
  await warm.resume();
  await warm.close();
  await rm(warmDir, { recursive: true, force: true });
  await sleep(100);
  gc();
  const before = process.memoryUsage().heapUsed;
  const mailer = new Mailer({ settings: holding(port), outbox: spoolOutbox(dir), transport: () => refusing });
  const t0 = now();
  const report = await mailer.resume();
  const seconds = (now() - t0) / 1000;
  gc();
  const after = process.memoryUsage().heapUsed;
  await mailer.close();
  return {
    resumed: report.resumed,
    quarantined: report.quarantined.length,
    seconds,
    heapPerMessage: (after - before) / report.resumed,
  };
}

/**
 * Case 7: one of three processes sending at once through one relay, with `fleetPermits` (the window shared in
 * Redis: every process at the full rate) or with its own throttle at a third of the rate (the split
 * docs/multi-server.md describes). The three wait until `startAt` (the wall clock) so that they begin together.
 */
/**
 * Counts the commands this process sends to Redis (every client: BullMQ's and the throttle's), from now on: the
 * round trips a message costs (a pipeline's commands each count).
 */
function countRedisCommands(): () => number {
  let sent = 0;
  const proto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: unknown, ...args: unknown[]) {
    sent += 1;
    return original.apply(this, args);
  };
  return () => sent;
}

export async function fleetSender(args: {
  mode: 'fleet' | 'split' | 'outbox';
  port: number;
  redisPort: number;
  key: string;
  perSecond: number;
  count: number;
  startAt: number;
}) {
  const { mode, port, redisPort, key, perSecond, count, startAt } = args;
  if (mode === 'outbox') return fleetOutboxSender(args);
  const shared = mode === 'fleet';
  const mailer = new Mailer({
    settings: settings(port, { throttlePerSecond: shared ? perSecond : Math.floor(perSecond / 3) }),
    maxConcurrent: 5,
    ...(shared ? { permits: fleetPermits({ connection: { host: '127.0.0.1', port: redisPort }, key }) } : {}),
  });
  await Promise.all(Array.from({ length: 20 }, (_, i) => mailer.send(small(i)))); // warm-up
  await sleep(Math.max(0, startAt - Date.now()));
  const commands = countRedisCommands();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await Promise.all(Array.from({ length: count }, (_, i) => mailer.send(small(i))));
  const elapsed = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sent = commands();
  await mailer.close();
  return { cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / count, seconds: elapsed / 1000, commands: sent };
}

/**
 * One server of a full fleet: the outbox on BullMQ and the throttle in Redis. It hands `count` messages to the
 * fleet, and delivers whatever the fleet gives it until the fleet's outbox is empty (any server may send any message).
 */
async function fleetOutboxSender(args: {
  port: number;
  redisPort: number;
  key: string;
  perSecond: number;
  count: number;
  startAt: number;
}) {
  const { port, redisPort, key, perSecond, count, startAt } = args;
  const connection = { host: '127.0.0.1', port: redisPort };
  const mailer = new Mailer({
    settings: settings(port, { throttlePerSecond: perSecond }),
    maxConcurrent: 5,
    outbox: fleetOutbox({ connection, queue: key, onWarning: () => undefined }),
    permits: fleetPermits({ connection, key: `${key}:permits` }),
  });
  const events = fleetEvents({ connection, queue: key });
  await Promise.all(Array.from({ length: 20 }, (_, i) => mailer.enqueue(small(i)))); // warm-up
  await sleep(Math.max(0, startAt - Date.now()));
  const commands = countRedisCommands();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await Promise.all(Array.from({ length: count }, (_, i) => mailer.enqueue(small(i))));
  let polls = 0;
  for (;;) {
    polls += 1;
    const counts = await events.counts();
    if (counts.queued + counts.sending + counts.waitingRetry === 0 && mailer.stats().sending === 0) break;
    await sleep(100);
  }
  const elapsed = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sent = commands() - polls; // the bench's own polls of the counts are not the library's
  await events.close();
  await mailer.close();
  return { cpuMsPerMessage: (cpu.user + cpu.system) / 1000 / count, seconds: elapsed / 1000, commands: sent };
}

export { tenantsActive, tenantsIdle } from './tenants.js';
