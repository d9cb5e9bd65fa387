/**
 * `npm run soak [-- --seed N]`: the fault soak. 2,000 messages at throttle 200 through a Mailer to an SMTP server in
 * a process of its own that injects seeded faults (451 at RCPT TO and after DATA, 421 and close, drops during and
 * after DATA, stalls past the timeout, 5 % of messages refused with 550). Every check is printed PASS or FAIL and
 * written with the figures to bench/soak-results.md; the command exits with 1 when any check fails.
 *
 * It runs the library from src/ through tsx, so that it checks the code in the tree without a build.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { type DeliveryReport, Mailer, type MailerOptions, smtpTransport } from '../src/index.js';
import { machine, maxInWindow, now, sleep } from './lib.js';
import {
  ALL_FAULTS,
  makePlan,
  PERMANENT_FAULTS,
  PERMANENT_SHARE,
  type PlannedMessage,
  type SinkCommand,
  type SinkReport,
  type SoakFault,
  TRANSIENT_WEIGHTS,
} from './soak-plan.js';

const MESSAGES = 2000;
const RATE = 200;
const MAX_ERRORS = 3;
const TIMEOUT_MS = 1000;
const CONNECTIONS = 5;
const WARM_UP = 100;
const SETTLE_DEADLINE_MS = 180_000;
const CLOSE_DEADLINE_MS = 30_000;
const HANDLES_GRACE_MS = 2000;
/** Heap growth allowed over the run, after close() and a forced GC: well under what keeping the messages costs. */
const HEAP_GROWTH_LIMIT = 2 * 2 ** 20;
const FROM = 'messenger@district.k12.us';
/** Error codes of an attempt that ended without an SMTP reply: the client cannot know whether the server took it. */
const NO_REPLY_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EABORT']);

const log = (text = '') => process.stdout.write(`${text}\n`);

function parseSeed(argv: readonly string[]): number {
  const index = argv.indexOf('--seed');
  if (index === -1) return Math.floor(Math.random() * 2 ** 32);
  const value = Number(argv[index + 1]);
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) {
    process.stderr.write('--seed takes a whole number from 0 to 4294967295\n');
    process.exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// The server process

interface SinkProcess {
  port: number;
  start(plan: PlannedMessage[]): Promise<void>;
  report(): Promise<SinkReport>;
  stop(): void;
}

function ask<T>(child: ChildProcess, command: SinkCommand): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the SMTP server did not answer ${command.cmd}`)),
      10_000,
    );
    child.once('message', (reply) => {
      clearTimeout(timer);
      resolve(reply as T);
    });
    child.send(command);
  });
}

async function startSink(): Promise<SinkProcess> {
  const child = fork(new URL('./soak-sink.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number }));
    child.once('exit', (code) => reject(new Error(`the SMTP server exited with ${code}`)));
  });
  child.removeAllListeners('exit');
  return {
    port,
    start: async (plan) => {
      const faults: Record<string, (SoakFault | null)[]> = {};
      for (const message of plan) faults[message.recipient] = message.faults;
      await ask(child, { cmd: 'start', faults });
    },
    report: () => ask<SinkReport>(child, { cmd: 'report' }),
    stop: () => child.disconnect(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What the Mailer reports, per message

interface Failure {
  attempt: number;
  code: string;
  reply: number | undefined;
  command: string;
  retryable: boolean;
  willRetry: boolean;
}

type Settled =
  | { ok: true; attempts: number; messageId: string }
  | { ok: false; code: string; reason: string; attempts: number; message: string };

interface Track {
  readonly plan: PlannedMessage;
  sendings: number;
  failures: Failure[];
  /** How many `sent` and `cancelled` events the message had (one is expected), and the first. */
  ends: number;
  end: { event: 'sent' | 'cancelled'; attempts: number; reason: string; messageId: string } | undefined;
  /** Events for the message after its `sent` or `cancelled`. */
  late: number;
  settled: number;
  outcome: Settled | undefined;
}

const NO_FAILURES: Failure[] = [];

/** Bookkeeping made before the heap is measured, and kept small: the heap check should see the Mailer, not it. */
function track(plan: PlannedMessage): Track {
  return {
    plan,
    sendings: 0,
    failures: NO_FAILURES,
    ends: 0,
    end: undefined,
    late: 0,
    settled: 0,
    outcome: undefined,
  };
}

function describeError(error: unknown): { code: string; reply: number | undefined; command: string } {
  const e = (error ?? {}) as { code?: unknown; responseCode?: unknown; command?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : 'none',
    reply: typeof e.responseCode === 'number' ? e.responseCode : undefined,
    command: typeof e.command === 'string' ? e.command : '',
  };
}

function listen(mailer: Mailer, tracks: Map<string, Track>, clientStarts: number[]): void {
  const of = (id: string): Track | undefined => {
    const t = tracks.get(id);
    if (t !== undefined && t.ends > 0) t.late += 1;
    return t;
  };
  const ended = (id: string, end: NonNullable<Track['end']>) => {
    const t = of(id);
    if (t === undefined) return;
    t.ends += 1;
    t.end ??= end;
  };
  mailer.on('sending', (e) => {
    clientStarts.push(now());
    const t = of(e.id);
    if (t !== undefined) t.sendings += 1;
  });
  mailer.on('failed', (e) => {
    const t = of(e.id);
    if (t === undefined) return;
    if (t.failures === NO_FAILURES) t.failures = [];
    t.failures.push({
      attempt: e.attempt,
      ...describeError(e.error),
      retryable: e.retryable,
      willRetry: e.willRetry,
    });
  });
  mailer.on('sent', (e) => {
    ended(e.id, { event: 'sent', attempts: e.attempts, reason: '', messageId: e.messageId });
  });
  mailer.on('cancelled', (e) => {
    ended(e.id, { event: 'cancelled', attempts: e.attempts, reason: e.reason, messageId: '' });
  });
}

function settle(t: Track, outcome: Settled): void {
  t.settled += 1;
  t.outcome ??= outcome;
}

function rejection(error: unknown): Settled {
  const e = (error ?? {}) as { code?: unknown; reason?: unknown; attempts?: unknown; message?: unknown };
  return {
    ok: false,
    code: typeof e.code === 'string' ? e.code : 'none',
    reason: typeof e.reason === 'string' ? e.reason : '',
    attempts: typeof e.attempts === 'number' ? e.attempts : -1,
    message: typeof e.message === 'string' ? e.message : String(error),
  };
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------------------------
// Memory and handles

async function collect(): Promise<boolean> {
  const gc = globalThis.gc;
  if (gc === undefined) return false;
  for (let i = 0; i < 4; i += 1) {
    gc();
    await sleep(20);
  }
  return true;
}

/**
 * Heap in use, and the part of it that is not machine code: V8 keeps compiling the hottest functions as a run goes
 * on, which is not something the run left behind.
 */
function heapUsed(): { total: number; data: number } {
  let total = 0;
  let code = 0;
  for (const space of getHeapSpaceStatistics()) {
    total += space.space_used_size;
    if (space.space_name.startsWith('code')) code += space.space_used_size;
  }
  return { total, data: total - code };
}

function countResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/** Active resources beyond those of the baseline (the harness's own: its server process, IPC, stdio). */
function leftover(baseline: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [name, count] of countResources()) {
    const extra = count - (baseline.get(name) ?? 0);
    if (extra > 0) out.push(`${name} × ${extra}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const seed = parseSeed(process.argv.slice(2));
const plan = makePlan(seed, MESSAGES, MAX_ERRORS);
const startedAt = new Date();
log(
  `messenger-email fault soak: ${MESSAGES} messages at ${RATE}/s, Max Errors Before Cancel ${MAX_ERRORS}, seed ${seed}`,
);
log(`rerun this plan with: npm run soak -- --seed ${seed}`);

const sink = await startSink();
const baselineResources = countResources();

const settings: MailerOptions['settings'] = {
  defaultSenderAddress: FROM,
  smtpHost: '127.0.0.1',
  smtpPort: sink.port,
  smtpTimeoutSeconds: 30,
  throttlePerSecond: RATE,
  minutesBetweenRetries: 0,
  maxErrorsBeforeCancel: MAX_ERRORS,
};
const options: MailerOptions = {
  settings,
  maxConcurrent: CONNECTIONS,
  transport: (s) => smtpTransport(s, { timeoutMs: TIMEOUT_MS, maxConnections: CONNECTIONS }),
};
const body = (n: string) => ({
  subject: `Attendance notice ${n}`,
  text: `Your student was marked absent today (notice ${n}). Please call the school office if this is a mistake.`,
});

// A warm-up that meets every fault: the heap baseline then holds the code of every path the run takes (compiled
// on first use), so that the heap after the run shows what the run left behind.
{
  const warmPlan = Array.from({ length: WARM_UP }, (_, i): PlannedMessage => {
    const number = `w${String(i).padStart(3, '0')}`;
    const fault = ALL_FAULTS[i % (2 * ALL_FAULTS.length)] ?? null;
    return {
      id: `soak-${number}`,
      recipient: `warmup-${number}@example.org`,
      faults: [fault],
      expected: { outcome: 'delivered', attempts: 1 }, // not checked
    };
  });
  await sink.start(warmPlan);
  const warm = new Mailer(options);
  await Promise.allSettled(warmPlan.map((p) => warm.send({ to: p.recipient, ...body(p.id) }, { id: p.id })));
  await warm.close();
}

const tracks = new Map<string, Track>(plan.map((p) => [p.id, track(p)]));
const clientStarts: number[] = [];
await sink.start(plan);
const gcExposed = await collect();
const heapBefore = heapUsed();

const t0 = now();
let mailer: Mailer | undefined = new Mailer(options);
const mailerRef = new WeakRef(mailer);
listen(mailer, tracks, clientStarts);
let pending: Promise<void>[] = [];
for (const t of tracks.values()) {
  const sent: Promise<DeliveryReport> = mailer.send(
    { to: t.plan.recipient, ...body(t.plan.id) },
    { id: t.plan.id },
  );
  pending.push(
    sent.then(
      (report) => settle(t, { ok: true, attempts: report.attempts, messageId: report.messageId }),
      (error: unknown) => settle(t, rejection(error)),
    ),
  );
}
log(`queued ${MESSAGES} messages; sending to 127.0.0.1:${sink.port}`);
const progress = setInterval(() => {
  const s = mailer?.stats();
  if (s !== undefined)
    log(
      `  ${((now() - t0) / 1000).toFixed(0).padStart(4)} s  sent ${s.sent}, cancelled ${s.cancelled}, queued ${s.queued}, sending ${s.sending}, waiting ${s.waitingRetry}`,
    );
}, 5000);
const allSettled = await withDeadline(Promise.all(pending), SETTLE_DEADLINE_MS);
const settleMs = now() - t0;
clearInterval(progress);
pending = [];
const closed = await withDeadline(mailer.close(), CLOSE_DEADLINE_MS);
const elapsedMs = now() - t0;
await new Promise((resolve) => setImmediate(resolve));
const resourcesAtClose = leftover(baselineResources);
const closedAt = now();
let resourcesAfter = resourcesAtClose;
while (resourcesAfter.length > 0 && now() - closedAt < HANDLES_GRACE_MS) {
  await sleep(10);
  resourcesAfter = leftover(baselineResources);
}
const handlesGoneMs = resourcesAfter.length === 0 ? now() - closedAt : Number.NaN;
mailer.removeAllListeners();
mailer = undefined;
await sleep(200);
await collect();
const heapAfter = heapUsed();
const mailerCollected = mailerRef.deref() === undefined;
const server = await sink.report();

// ---------------------------------------------------------------------------------------------------------------
// The checks

interface Check {
  name: string;
  value: string;
  target: string;
  pass: boolean;
}
const checks: Check[] = [];
const all = [...tracks.values()];
const ids = (list: Track[], n = 10) =>
  list
    .slice(0, n)
    .map((t) => t.plan.id)
    .join(', ') + (list.length > n ? ', …' : '');

// 1. every promise settled, once
const unsettled = all.filter((t) => t.settled === 0);
const twice = all.filter((t) => t.settled > 1);
checks.push({
  name: 'every send() promise settled exactly once',
  value: `${all.length - unsettled.length - twice.length} of ${MESSAGES} once, ${unsettled.length} never${unsettled.length > 0 ? ` (${ids(unsettled)})` : ''}, ${twice.length} more than once; ${allSettled === 'timeout' ? `not all within ${SETTLE_DEADLINE_MS / 1000} s` : `all within ${(settleMs / 1000).toFixed(1)} s`}`,
  target: `${MESSAGES} once, within ${SETTLE_DEADLINE_MS / 1000} s`,
  pass: unsettled.length === 0 && twice.length === 0 && allSettled !== 'timeout',
});

// 2. one outcome event per message, agreeing with its promise, and nothing after it
function agrees(t: Track): boolean {
  const { end, outcome: o } = t;
  if (end === undefined || t.ends > 1 || t.late > 0 || o === undefined) return false;
  if (end.event === 'sent') return o.ok && o.attempts === end.attempts && o.messageId === end.messageId;
  return !o.ok && o.code === 'DELIVERY_CANCELLED' && o.reason === end.reason && o.attempts === end.attempts;
}
const disagreeing = all.filter((t) => !agrees(t));
checks.push({
  name: 'one sent or cancelled event per message, matching its promise, none after it',
  value: `${MESSAGES - disagreeing.length} of ${MESSAGES}${disagreeing.length > 0 ? `; not: ${ids(disagreeing)}` : ''}`,
  target: `${MESSAGES} of ${MESSAGES}`,
  pass: disagreeing.length === 0,
});

// 3. none lost
const delivered = all.filter((t) => t.outcome?.ok === true);
const cancelled = all.filter((t) => t.outcome !== undefined && !t.outcome.ok);
const copies = new Map<string, SinkReport['accepted']>();
for (const a of server.accepted) {
  const list = copies.get(a.messageId) ?? [];
  list.push(a);
  copies.set(a.messageId, list);
}
const messageIdOf = (t: Track): string =>
  t.outcome?.ok === true ? t.outcome.messageId : (t.end?.messageId ?? '');
const repliedTo = (recipient: string) =>
  server.accepted.filter((a) => a.recipient === recipient && a.reply === 'sent').length;
const deliveredUnseen = delivered.filter(
  (t) => !(copies.get(messageIdOf(t)) ?? []).some((a) => a.reply === 'sent'),
);
const cancelledButAcknowledged = cancelled.filter((t) => repliedTo(t.plan.recipient) > 0);
checks.push({
  name: 'none lost: delivered + cancelled = messages; every delivered message received by the server with a 250',
  value: `${delivered.length} + ${cancelled.length} = ${delivered.length + cancelled.length}; delivered without a 250 at the server: ${deliveredUnseen.length}${deliveredUnseen.length > 0 ? ` (${ids(deliveredUnseen)})` : ''}; cancelled though the server replied 250: ${cancelledButAcknowledged.length}${cancelledButAcknowledged.length > 0 ? ` (${ids(cancelledButAcknowledged)})` : ''}`,
  target: `${MESSAGES}; 0; 0`,
  pass:
    delivered.length + cancelled.length === MESSAGES &&
    deliveredUnseen.length === 0 &&
    cancelledButAcknowledged.length === 0,
});

// 4. attempts within Max Errors Before Cancel
const serverAttempts = new Map<string, number>();
for (const r of server.rcpt)
  serverAttempts.set(r.recipient, Math.max(r.attempt, serverAttempts.get(r.recipient) ?? 0));
const attemptsOf = (t: Track) =>
  Math.max(
    t.sendings,
    t.outcome?.ok === false ? t.outcome.attempts : 0,
    t.outcome?.ok ? t.outcome.attempts : 0,
  );
const maxClient = Math.max(0, ...all.map(attemptsOf));
const maxServer = Math.max(0, ...serverAttempts.values());
const overLimit = all.filter(
  (t) => attemptsOf(t) > MAX_ERRORS || (serverAttempts.get(t.plan.recipient) ?? 0) > MAX_ERRORS,
);
checks.push({
  name: 'attempts per message never over Max Errors Before Cancel',
  value: `most attempts: ${maxClient} by the Mailer, ${maxServer} at the server (RCPT TO per recipient)${overLimit.length > 0 ? `; over: ${ids(overLimit)}` : ''}`,
  target: `<= ${MAX_ERRORS}`,
  pass: overLimit.length === 0,
});

// 5. 5xx never retried
const permanentReplies = all.flatMap((t) =>
  t.failures.filter((f) => f.reply !== undefined && f.reply >= 500).map((f) => ({ t, f })),
);
const retriedByMailer = permanentReplies.filter(
  ({ t, f }) =>
    f.willRetry || t.sendings > f.attempt || t.outcome?.ok !== false || t.outcome.reason !== 'permanent',
);
const permanentAtServer = server.rcpt.filter((r) => r.fault !== null && PERMANENT_FAULTS.has(r.fault));
const retriedAtServer = permanentAtServer.filter((p) =>
  server.rcpt.some((r) => r.recipient === p.recipient && r.attempt > p.attempt),
);
checks.push({
  name: '5xx replies never retried',
  value: `${permanentAtServer.length} refused with 550 at the server, ${permanentReplies.length} 5xx failures seen by the Mailer; retried: ${retriedByMailer.length} by the Mailer's account, ${retriedAtServer.length} at the server${retriedByMailer.length + retriedAtServer.length > 0 ? ` (${[...new Set([...retriedByMailer.map((x) => x.t.plan.id), ...retriedAtServer.map((r) => r.recipient)])].slice(0, 10).join(', ')})` : ''}`,
  target: '0 retried',
  pass: retriedByMailer.length === 0 && retriedAtServer.length === 0,
});

// 6. duplicates, each after an attempt whose outcome the client could not know
const byRecipient = new Map(all.map((t) => [t.plan.recipient, t]));
const duplicates = [...copies.entries()]
  .filter(([, list]) => list.length > 1)
  .map(([messageId, list]) => {
    const t = byRecipient.get(list[0]?.recipient ?? '');
    const lost = list.filter((a) => a.reply !== 'sent');
    const noReply = (t?.failures ?? []).filter((f) => f.reply === undefined && NO_REPLY_CODES.has(f.code));
    return {
      messageId,
      id: t?.plan.id ?? '?',
      copies: list.length,
      attempts: t === undefined ? 0 : attemptsOf(t),
      outcome:
        t?.outcome === undefined ? 'unsettled' : t.outcome.ok ? 'delivered' : `cancelled ${t.outcome.reason}`,
      lost: lost.map((a) => `attempt ${a.attempt}: ${a.reply}`),
      seen: noReply.map((f) => `attempt ${f.attempt}: ${f.code}${f.command ? ` (${f.command})` : ''}`),
      explained: lost.length >= list.length - 1 && noReply.length >= lost.length,
    };
  });
const unexplained = duplicates.filter((d) => !d.explained);
checks.push({
  name: 'duplicates at the server each follow an attempt with an unknown outcome',
  value: `${duplicates.length} duplicated (${duplicates.reduce((n, d) => n + d.copies - 1, 0)} extra copies); without an unknown-outcome attempt: ${unexplained.length}${
    unexplained.length > 0
      ? ` (${unexplained
          .slice(0, 10)
          .map((d) => d.id)
          .join(', ')})`
      : ''
  }`,
  target: 'every duplicate explained',
  pass: unexplained.length === 0,
});

// 7. the throttle, counted at the server
const serverMax = maxInWindow(server.mailFrom);
const clientMax = maxInWindow(clientStarts);
checks.push({
  name: 'most MAIL FROM in any sliding second, at the server',
  value: `${serverMax} (\`sending\` events in a sliding second: ${clientMax})`,
  target: `<= ${RATE}`,
  pass: serverMax <= RATE,
});

// 8. heap
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const growth = heapAfter.data - heapBefore.data;
checks.push({
  name: 'heap after close() and a forced GC, against before (machine code aside)',
  value: gcExposed
    ? `${mib(heapAfter.data)} after, ${mib(heapBefore.data)} before (${growth >= 0 ? '+' : '-'}${mib(Math.abs(growth))}); with code ${mib(heapAfter.total)} and ${mib(heapBefore.total)}; the Mailer ${mailerCollected ? 'was' : 'was NOT'} garbage-collected`
    : 'not measured: run with --expose-gc (npm run soak does)',
  target: `growth <= ${mib(HEAP_GROWTH_LIMIT)}, the Mailer collected`,
  pass: gcExposed && growth <= HEAP_GROWTH_LIMIT && mailerCollected,
});

// 9. handles
checks.push({
  name: 'no active handles left after close()',
  value: `${closed === 'timeout' ? `close() did not resolve within ${CLOSE_DEADLINE_MS / 1000} s; ` : ''}${resourcesAtClose.join(', ') || 'none'}${resourcesAtClose.length === 0 ? '' : resourcesAfter.length === 0 ? `; all gone ${handlesGoneMs.toFixed(0)} ms later` : `; ${HANDLES_GRACE_MS / 1000} s later still ${resourcesAfter.join(', ')}`}`,
  target:
    'no socket once close() has resolved; nothing at all 1 s later (nodemailer’s pool can keep its own 100 ms timer after a failed connection)',
  pass:
    closed !== 'timeout' &&
    !resourcesAtClose.some((name) => /Socket|TLSWrap|TCP/.test(name)) &&
    resourcesAfter.length === 0 &&
    handlesGoneMs <= 1000,
});

// ---------------------------------------------------------------------------------------------------------------
// The report

const cell = (text: string | number) => String(text).replaceAll('|', '\\|');
const table = (head: string[], rows: (string | number)[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');

const count = <T>(list: readonly T[], key: (x: T) => string) => {
  const out = new Map<string, number>();
  for (const x of list) out.set(key(x), (out.get(key(x)) ?? 0) + 1);
  return [...out.entries()].sort((a, b) => b[1] - a[1]);
};

const outcomeRows = count(all, (t) =>
  t.outcome === undefined
    ? 'unsettled'
    : t.outcome.ok
      ? 'delivered'
      : t.outcome.code === 'DELIVERY_CANCELLED'
        ? `cancelled: ${t.outcome.reason}`
        : `rejected: ${t.outcome.code}`,
);
const histogram = new Map<number, { delivered: number; cancelled: number }>();
for (const t of all) {
  const n = attemptsOf(t);
  const row = histogram.get(n) ?? { delivered: 0, cancelled: 0 };
  if (t.outcome?.ok === true) row.delivered += 1;
  else row.cancelled += 1;
  histogram.set(n, row);
}
const histogramRows = [...histogram.entries()]
  .sort((a, b) => a[0] - b[0])
  .map(([n, r]) => [n, r.delivered, r.cancelled, r.delivered + r.cancelled]);

const asPlanned = all.filter((t) => {
  const e = t.plan.expected;
  const o = t.outcome;
  if (o === undefined) return false;
  if (e.outcome === 'delivered') return o.ok && o.attempts === e.attempts;
  return !o.ok && o.reason === e.reason && o.attempts === e.attempts;
});
const offPlan = all.filter((t) => !asPlanned.includes(t));
const faultsAtServer = count(
  server.rcpt.filter((r) => r.fault !== null),
  (r) => r.fault as string,
);
const failuresSeen = count(
  all.flatMap((t) => t.failures),
  (f) => `${f.code}${f.reply === undefined ? '' : ` ${f.reply}`}${f.command ? ` (${f.command})` : ''}`,
);
const acceptedUnknown = cancelled.filter((t) =>
  server.accepted.some((a) => a.recipient === t.plan.recipient),
);
const failed = checks.filter((c) => !c.pass);
const describePlan = (t: Track) => {
  const e = t.plan.expected;
  const o = t.outcome;
  const got =
    o === undefined
      ? 'unsettled'
      : o.ok
        ? `delivered at ${o.attempts}`
        : `${o.reason || o.code} at ${o.attempts}`;
  const want = e.outcome === 'delivered' ? `delivered at ${e.attempts}` : `${e.reason} at ${e.attempts}`;
  return `${t.plan.id}: planned ${want} [${t.plan.faults.map((f) => f ?? 'ok').join(', ')}], got ${got}; server saw ${serverAttempts.get(t.plan.recipient) ?? 0} attempt(s)`;
};

const report = `# Fault soak results

Run ${startedAt.toISOString()} in ${(elapsedMs / 1000).toFixed(1)} s (all messages settled in ${(settleMs / 1000).toFixed(1)} s). Machine: ${await machine()}.

Seed **${seed}**: \`npm run soak -- --seed ${seed}\` injects the same faults again.

The library runs from src/ (through tsx) in one process; the SMTP server (smtp-server, plain SMTP on 127.0.0.1) runs
in another and injects the faults, so that neither event loop delays the other. Times at the server are on the
server's clock.

## Settings

${table(
  ['setting', 'value'],
  [
    ['messages', MESSAGES],
    ['Throttle Email Messages per second', RATE],
    ['Max Errors Before Cancel', MAX_ERRORS],
    ['Minutes Between Retries', '0 (retry at the next free slot)'],
    [
      'SMTP Timeout',
      `30 s in the settings; ${TIMEOUT_MS} ms through \`smtpTransport(settings, { timeoutMs })\``,
    ],
    ['maxConcurrent, SMTP connections', CONNECTIONS],
    [
      'faults per attempt',
      `${TRANSIENT_WEIGHTS.map(([f, w]) => `${f} ${(w * 100).toFixed(1)} %`).join(', ')}; and ${PERMANENT_SHARE * 100} % of messages meet rcpt-550 or data-550 at one of their attempts`,
    ],
  ],
)}

## Checks

${table(
  ['check', 'value', 'target', 'result'],
  checks.map((c) => [c.name, c.value, c.target, c.pass ? 'PASS' : 'FAIL']),
)}

${failed.length === 0 ? 'Every check passed.' : `${failed.length} check(s) failed.`}

## Outcomes

${table(['outcome', 'messages'], outcomeRows)}

Cancelled messages the server nevertheless holds (it took them on an attempt whose reply was lost): ${acceptedUnknown.length}${acceptedUnknown.length > 0 ? ` (${ids(acceptedUnknown)})` : ''}.

Outcomes as the seeded plan predicts (each attempt reaching the server as planned): ${asPlanned.length} of ${MESSAGES}.${
  offPlan.length > 0
    ? `\n\n${offPlan
        .slice(0, 10)
        .map((t) => `- ${describePlan(t)}`)
        .join('\n')}${offPlan.length > 10 ? `\n- and ${offPlan.length - 10} more` : ''}`
    : ''
}

## Attempts per message

${table(['attempts', 'delivered', 'cancelled', 'messages'], histogramRows)}

## Duplicates

${
  duplicates.length === 0
    ? 'None: no Message-ID was accepted more than once.'
    : table(
        [
          'Message-ID',
          'message',
          'copies',
          'attempts',
          'outcome',
          'reply lost at the server',
          'Mailer saw, without a reply',
          'explained',
        ],
        duplicates.map((d) => [
          d.messageId,
          d.id,
          d.copies,
          d.attempts,
          d.outcome,
          d.lost.join('; ') || 'none',
          d.seen.join('; ') || 'none',
          d.explained ? 'yes' : 'NO',
        ]),
      )
}

## Faults and failures

${table(['fault injected at the server', 'attempts'], faultsAtServer)}

${table(['failure seen by the Mailer (code, reply, command)', 'attempts'], failuresSeen)}

## Server, memory, handles

${table(
  ['measure', 'value'],
  [
    ['MAIL FROM received', server.mailFrom.length],
    ['RCPT TO received', server.rcpt.length],
    ['messages accepted (copies)', server.accepted.length],
    ['connections accepted', server.connections],
    ['most MAIL FROM in any sliding second (server)', serverMax],
    ["most attempt starts in any sliding second (the Mailer's `sending` events)", clientMax],
    [
      'heap before (after a warm-up, forced GC): all, machine code aside',
      gcExposed ? `${mib(heapBefore.total)}, ${mib(heapBefore.data)}` : 'n/a',
    ],
    [
      'heap after close() (forced GC): all, machine code aside',
      gcExposed ? `${mib(heapAfter.total)}, ${mib(heapAfter.data)}` : 'n/a',
    ],
    [
      'active resources at start (the soak itself)',
      [...baselineResources].map(([k, v]) => `${k} × ${v}`).join(', '),
    ],
    [
      'left over once close() resolved (and one turn of the event loop)',
      resourcesAtClose.join(', ') || 'none',
    ],
    [
      'time until none was left',
      resourcesAfter.length === 0
        ? `${handlesGoneMs.toFixed(0)} ms`
        : `over ${HANDLES_GRACE_MS / 1000} s (${resourcesAfter.join(', ')})`,
    ],
  ],
)}
`;

log(`\n${report}`);
await writeFile(join('bench', 'soak-results.md'), report);
log(
  `${failed.length === 0 ? 'every check passed' : `${failed.length} check(s) failed`}; written to bench/soak-results.md`,
);

sink.stop();
process.exitCode = failed.length === 0 ? 0 : 1;
// The soak ends by itself once everything is closed; if anything still holds the process, that is a failure too.
setTimeout(() => {
  log(
    `FAIL: the process did not exit by itself; still active: ${process.getActiveResourcesInfo().join(', ')}`,
  );
  process.exit(1);
}, 10_000).unref();
