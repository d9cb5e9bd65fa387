/**
 * Durability where the user sees it: real child processes (test/e2e/fixtures/spool-child.mjs, on the built
 * package) work one spool and send 500 messages to a real SMTP server on 127.0.0.1 that defers, drops and stalls
 * some of them. The test kills them with SIGKILL while they store messages, while attempts are stalled at the
 * server, and the moment the server has accepted a message; a new process resumes each time. Counted at the
 * server: nothing accepted is lost, no message gets more attempts than Max Errors Before Cancel across the
 * restarts, and every duplicate is a message whose attempt the spool had under way at a kill, with the same
 * Message-ID. Each resume's report is checked against what the killed process left on disk. The figures are
 * printed, never hidden. Run `npm run build` first.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceivedMessage, type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const childScript = resolve(import.meta.dirname, 'fixtures/spool-child.mjs');
const TOTAL = 500;
const MAX_ERRORS = 3;
/** Longest wait for one step (a slow, busy 2-core machine takes well under a tenth of it). */
const STEP_MS = 20_000;

/** What the spool held before a process resumed it (counted by the process itself). */
interface Census {
  messages: number;
  tmp: number;
  quarantine: number;
  /** Bytes of the journal's segments (changes not yet in messages/). */
  journal: number;
  listed: number;
  states: { queued: number; waiting: number; sending: number };
}

/** One child process, and what it said. */
interface Proc {
  readonly index: number;
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  census?: Census;
  report?: { resumed: number; recovered: number; quarantined: number };
  readonly quarantined: { id?: string; file?: string; reason: string }[];
  /** Ids resume() queued again. */
  readonly resumed: Set<string>;
  /** Ids whose cut-off attempt resume() reported (failed, unknown outcome). */
  readonly recovered: Set<string>;
  /** enqueue() called, not yet resolved or refused. */
  readonly enqueuing: Set<string>;
  /** Attempts under way: `sending` said, no outcome yet. */
  readonly open: Set<string>;
  /** Ids this process said were sent. */
  readonly sent: Set<string>;
  idle: boolean;
  killed: boolean;
  stderr: string;
  readonly closed: Promise<void>;
}

/** What every process said, across the whole run. */
class Ledger {
  readonly handedOut = new Set<string>();
  readonly accepted = new Set<string>();
  /** Attempt numbers of each `sending`, in order, across processes. */
  readonly sendings = new Map<string, number[]>();
  readonly sent = new Map<string, { attempts: number; messageId: string; proc: number }[]>();
  readonly cancelled = new Map<string, { reason: string; attempts: number }>();
  /** Messages with an attempt under way (`sending`, no outcome) when their process was killed, and which kill. */
  readonly inFlightAtKills = new Map<string, number>();
  readonly problems: string[] = [];
  readonly procs: Proc[] = [];
  /** Every line about each message, with its process: shown when an assertion about it fails. */
  readonly history = new Map<string, string[]>();
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  /** Resolves when `test` holds after a line (or at once); rejects after `ms` with what was seen. */
  until(what: string, test: () => boolean, ms = STEP_MS): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.test !== test);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; ${this.summary()}`));
      }, ms);
      this.#waiters.push({
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** What was said about a message, for an assertion's message. */
  story(id: string): string {
    return `${id}: ${(this.history.get(id) ?? []).join(' | ') || 'nothing said'}`;
  }

  summary(): string {
    return `accepted ${this.accepted.size}, sent ${this.sent.size}, cancelled ${this.cancelled.size}, problems ${this.problems.join(' | ') || 'none'}`;
  }

  /**
   * Messages a killed process said were sent whose record was still on disk: the next process resumed them with
   * the attempt cut off. The Mailer emits `sent` before the spool's removal of the record is on disk.
   */
  sentButStillStored(): Map<string, number> {
    const found = new Map<string, number>();
    for (const [i, proc] of this.procs.entries()) {
      const next = this.procs[i + 1];
      if (!proc.killed || next === undefined) continue;
      for (const id of proc.sent) if (next.recovered.has(id)) found.set(id, i);
    }
    return found;
  }

  check(): void {
    for (const waiter of [...this.#waiters]) {
      if (!waiter.test()) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  line(proc: Proc, line: string): void {
    const space = line.indexOf(' ');
    const kind = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1);
    const [id = '', a = '', b = ''] = rest.split(' ');
    if (/^[kw]\d+$/.test(id))
      this.history.set(id, [...(this.history.get(id) ?? []), `${proc.index}: ${line}`]);
    switch (kind) {
      case 'P':
        proc.census = JSON.parse(rest) as Census;
        break;
      case 'Q':
        proc.resumed.add(id);
        this.accepted.add(id); // on disk: stored by an earlier process, maybe before it could say so
        break;
      case 'R':
        proc.report = { resumed: Number(id), recovered: Number(a), quarantined: Number(b) };
        break;
      case 'QR':
        proc.quarantined.push(JSON.parse(rest) as Proc['quarantined'][number]);
        break;
      case 'H':
        proc.enqueuing.add(id);
        break;
      case 'A':
        this.accepted.add(id);
        proc.enqueuing.delete(id);
        break;
      case 'S': {
        this.sendings.set(id, [...(this.sendings.get(id) ?? []), Number(a)]);
        proc.open.add(id);
        break;
      }
      case 'D': {
        const list = this.sent.get(id) ?? [];
        list.push({ attempts: Number(a), messageId: b, proc: proc.index });
        this.sent.set(id, list);
        proc.sent.add(id);
        proc.open.delete(id);
        break;
      }
      case 'F':
        if (b === 'unknown')
          proc.recovered.add(id); // found by resume(): not an attempt of this process
        else proc.open.delete(id);
        break;
      case 'C':
        this.cancelled.set(id, { reason: a, attempts: Number(b) });
        proc.open.delete(id);
        break;
      case 'IDLE':
        proc.idle = true;
        break;
      default:
        this.problems.push(`process ${proc.index}: ${line}`); // X (enqueue refused), E (outboxError), or unknown
    }
    this.check();
  }
}

/** Starts a process on the spool that hands over `ids`, at most `inFlight` enqueue() calls at once. */
async function startProc(
  ledger: Ledger,
  dir: string,
  port: number,
  ids: string[],
  inFlight: number,
): Promise<Proc> {
  const index = ledger.procs.length;
  const jobFile = join(dir, '..', `${index}.job.json`);
  await writeFile(
    jobFile,
    JSON.stringify({
      dir,
      port,
      ids,
      inFlight,
      maxConcurrent: 8,
      throttlePerSecond: 250,
      maxErrorsBeforeCancel: MAX_ERRORS,
    }),
  );
  for (const id of ids) ledger.handedOut.add(id);
  const child = spawn(process.execPath, [childScript, jobFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buffer = '';
  let finish: () => void = () => undefined;
  const proc: Proc = {
    index,
    child,
    quarantined: [],
    resumed: new Set(),
    recovered: new Set(),
    enqueuing: new Set(),
    open: new Set(),
    sent: new Set(),
    idle: false,
    killed: false,
    stderr: '',
    closed: new Promise<void>((done) => {
      finish = done;
    }),
  };
  ledger.procs.push(proc);
  child.stderr.on('data', (chunk: Buffer) => {
    proc.stderr += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      ledger.line(proc, buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
  // 'close', not 'exit': every line the process wrote before it died has been read by then
  child.once('close', (code, signal) => {
    if (signal === 'SIGKILL' && proc.killed) {
      for (const id of proc.open) ledger.inFlightAtKills.set(id, index);
    } else if (code !== 0) {
      ledger.problems.push(`process ${index} ended with ${code ?? signal}: ${proc.stderr.trim()}`);
    }
    finish();
    ledger.check();
  });
  return proc;
}

async function kill(proc: Proc): Promise<void> {
  proc.killed = true;
  proc.child.kill('SIGKILL');
  await proc.closed;
}

/** Polls the file system (an observable step, never a fixed sleep) until `test` holds. */
async function poll(what: string, test: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 1));
  }
}

/** Bytes in the spool's journal segments. */
async function journalBytes(dir: string): Promise<number> {
  const names = await readdir(join(dir, 'journal')).catch(() => [] as string[]);
  let bytes = 0;
  for (const name of names) bytes += (await stat(join(dir, 'journal', name)).catch(() => ({ size: 0 }))).size;
  return bytes;
}

const numberOf = (id: string) => Number(id.slice(1));
const recipientOf = (id: string) => `r${numberOf(id)}@example.org`;

/** Server copies by the caller's id (the X-Test-Key header). */
function copiesByKey(messages: readonly ReceivedMessage[]): Map<string, ReceivedMessage[]> {
  const byKey = new Map<string, ReceivedMessage[]>();
  for (const message of messages) {
    const key = message.headers.get('x-test-key') ?? '(none)';
    byKey.set(key, [...(byKey.get(key) ?? []), message]);
  }
  return byKey;
}

/** What the server received is what was handed over: each copy's id, recipient, subject and body agree. */
function expectIntact(ledger: Ledger, messages: readonly ReceivedMessage[]): void {
  for (const message of messages) {
    const key = message.headers.get('x-test-key') ?? '(none)';
    expect(ledger.handedOut.has(key), `the server got a message no one handed over: ${key}`).toBe(true);
    expect(message.to, key).toEqual([recipientOf(key)]);
    expect(message.subject, key).toBe(`Message ${key}`);
    expect(message.raw.toString('utf8'), key).toContain(`Body of ${key}`);
  }
}

/** A resume's report agrees with what the last process left on disk, and it brings back everything owed. */
function expectConsistentResume(proc: Proc, owed: ReadonlySet<string>, handedOut: ReadonlySet<string>): void {
  const census = proc.census as Census;
  const report = proc.report;
  expect(report, `process ${proc.index} reported its resume`).toBeDefined();
  if (report === undefined) return;
  // every record loaded (in messages/ and in the journal, as the queue listing reads them), nothing else: a
  // cut-off write is never a message
  expect(report.resumed, 'resumed = records listed').toBe(census.listed);
  expect(proc.resumed.size, 'one queued (resumed) event per resumed message').toBe(report.resumed);
  // every attempt the last process had under way counted as cut off, and only those
  expect(report.recovered, 'recovered = records left sending').toBe(census.states.sending);
  expect(proc.recovered.size, 'one unknown-outcome failure per recovered message').toBe(report.recovered);
  // every write cut off in tmp/ moved aside, naming no message, never loaded
  expect(report.quarantined, 'quarantined = cut-off writes left in tmp/').toBe(census.tmp);
  for (const q of proc.quarantined) {
    expect(q.id, 'a cut-off write names no message').toBeUndefined();
    expect(q.file ?? '', 'moved into quarantine/').toContain(join('quarantine', ''));
    expect(q.reason).toMatch(/cut off/);
  }
  for (const id of proc.resumed) expect(handedOut.has(id), `resumed ${id} was handed over`).toBe(true);
  for (const id of owed)
    expect(proc.resumed.has(id), `${id} was accepted and not settled: resumed`).toBe(true);
}

describe('spool: SIGKILL while storing and while sending, then resume', () => {
  let sink: SmtpSink;
  let root: string;
  const ledger = new Ledger();
  /** After each kill: accepted and not settled (sent or cancelled), which the next resume must bring back. */
  const owedAtKills: Set<string>[] = [];
  const stalled: string[] = [];
  let enqueuesInFlightAtFirstKill = 0;
  let acceptedAtFirstKill = new Set<string>();
  let byKey = new Map<string, ReceivedMessage[]>();
  let seconds = 0;

  const owed = () =>
    new Set([...ledger.accepted].filter((id) => !ledger.sent.has(id) && !ledger.cancelled.has(id)));
  const pending = () =>
    Array.from({ length: TOTAL }, (_, i) => `k${i}`).filter((id) => !ledger.accepted.has(id));

  beforeAll(async () => {
    const started = Date.now();
    sink = await startSmtpSink();
    root = await mkdtemp(join(tmpdir(), 'messenger-email-kill-'));
    const dir = join(root, 'spool');
    // transient faults, each once: a deferral after DATA, a connection dropped after DATA, a deferral at RCPT
    // (k0 has all three: Max Errors Before Cancel, 3, cancels it)
    for (let i = 0; i < TOTAL; i += 1) {
      if (i % 7 === 0) sink.failNext(recipientOf(`k${i}`), { type: 'data', code: 451 });
      if (i % 11 === 0) sink.failNext(recipientOf(`k${i}`), { type: 'drop', stage: 'data' });
      if (i % 13 === 0) sink.failNext(recipientOf(`k${i}`), { type: 'rcpt', code: 421 });
    }
    const killAt = async (proc: Proc) => {
      await kill(proc);
      owedAtKills.push(owed()); // every line of the killed process is read by now
    };

    // 1. while it stores: enqueue() calls in flight, their changes being appended to the journal and flushed
    let proc = await startProc(ledger, dir, sink.port, pending(), 64);
    await ledger.until('100 messages stored', () => ledger.accepted.size >= 100);
    let seen = await journalBytes(dir);
    await poll('the journal growing with enqueue() calls pending', async () => {
      const now = await journalBytes(dir);
      const growing = now > seen && proc.enqueuing.size >= 3;
      seen = now;
      return growing;
    });
    await killAt(proc);
    enqueuesInFlightAtFirstKill = proc.enqueuing.size;
    acceptedAtFirstKill = new Set(ledger.accepted);

    // 2. while attempts are stalled at the server after DATA (never answered): cut off mid-transfer
    const next = pending().filter((id) => numberOf(id) % 7 && numberOf(id) % 11 && numberOf(id) % 13);
    stalled.push(...next.slice(20, 24));
    for (const id of stalled) sink.failNext(recipientOf(id), { type: 'stall', stage: 'data' });
    proc = await startProc(ledger, dir, sink.port, pending(), 64);
    await poll('the stalled attempts', async () =>
      stalled.every((id) => (sink.attempts.get(recipientOf(id)) ?? 0) > 0),
    );
    await killAt(proc);

    // 3. and 4. the moment the server has accepted a message, before its client reads the reply
    for (let round = 0; round < 2; round += 1) {
      proc = await startProc(ledger, dir, sink.port, pending(), 64);
      const left = TOTAL - copiesByKey(sink.messages).size;
      await sink.waitForMessages(sink.messages.length + Math.max(1, Math.floor(left / 4)), STEP_MS);
      await killAt(proc);
    }

    // 5. runs to the end
    proc = await startProc(ledger, dir, sink.port, pending(), 64);
    await ledger.until('the last process to finish', () => proc.idle);
    await proc.closed;
    byKey = copiesByKey(sink.messages);
    seconds = (Date.now() - started) / 1000;

    const duplicates = [...byKey].filter(([, copies]) => copies.length > 1);
    const stillStored = ledger.sentButStillStored();
    const attemptsAtServer = [...ledger.handedOut].map((id) => sink.attempts.get(recipientOf(id)) ?? 0);
    const why = (key: string) =>
      ledger.inFlightAtKills.has(key)
        ? `in flight at kill ${ledger.inFlightAtKills.get(key)}`
        : stillStored.has(key)
          ? `sent just before kill ${stillStored.get(key)}, its record not yet removed`
          : 'NOT in flight';
    console.log(
      [
        `spool kill test, ${seconds.toFixed(1)} s: ${ledger.procs.length} processes, ${ledger.procs.filter((p) => p.killed).length} kills`,
        `accepted ${ledger.accepted.size}, distinct at the server ${byKey.size}, copies at the server ${sink.messages.length}, cancelled ${ledger.cancelled.size} (${[...ledger.cancelled.keys()].join(', ')})`,
        `kill 0 (storing): ${acceptedAtFirstKill.size} acknowledged, ${enqueuesInFlightAtFirstKill} enqueue() calls pending, of which ${[...(ledger.procs[1]?.resumed ?? [])].filter((id) => !acceptedAtFirstKill.has(id)).length} on disk unacknowledged; the next process found ${ledger.procs[1]?.census?.journal} bytes of journal and ${ledger.procs[1]?.census?.tmp} cut-off writes in tmp/`,
        `kill 1 (stalled after DATA: ${stalled.join(', ')}), kills 2 and 3 (as the server accepted a message)`,
        `in flight at the kills (sending, no outcome): ${ledger.inFlightAtKills.size} (${[...ledger.inFlightAtKills].map(([id, k]) => `${id}@${k}`).join(', ')})`,
        `sent just before a kill with the record still on disk (resumed as cut off): ${stillStored.size} (${[...stillStored.keys()].join(', ')})`,
        `duplicates at the server: ${duplicates.length}${duplicates.length > 0 ? ` (${duplicates.map(([key, copies]) => `${key} ×${copies.length}, ${why(key)}`).join('; ')})` : ''}`,
        `most attempts of one message: ${Math.max(...attemptsAtServer)} at the server (RCPT), ${Math.max(...[...ledger.sendings.values()].map((l) => l.length))} sending events; Max Errors Before Cancel ${MAX_ERRORS}`,
        ...ledger.procs.map(
          (p) =>
            `process ${p.index}: found ${JSON.stringify(p.census)}; resumed ${p.report?.resumed}, recovered ${p.report?.recovered}, quarantined ${p.report?.quarantined}; ${p.killed ? `killed with ${p.open.size} attempts under way` : 'ran to the end'}`,
        ),
      ].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    for (const proc of ledger.procs) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await sink?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('kills its processes while they store and while attempts are under way, and finishes in time', () => {
    expect(ledger.problems).toEqual([]);
    expect(ledger.procs.filter((p) => p.killed).length).toBeGreaterThanOrEqual(3);
    expect(enqueuesInFlightAtFirstKill, 'enqueue() calls pending at the first kill').toBeGreaterThan(0);
    for (const id of stalled) expect(ledger.inFlightAtKills.get(id), `stalled ${id} was in flight`).toBe(1);
    expect(ledger.procs.at(-1)?.idle, 'the last process settled every message').toBe(true);
    expect(seconds).toBeLessThan(60);
  });

  it('loses no accepted message: each is at the server or cancelled by Max Errors Before Cancel', () => {
    expect(ledger.accepted.size).toBe(TOTAL);
    for (const id of ledger.accepted) {
      expect(byKey.has(id) || ledger.cancelled.has(id), `lost: ${ledger.story(id)}`).toBe(true);
    }
    for (const [id, { reason, attempts }] of ledger.cancelled) {
      expect(`${reason} after ${attempts}`, ledger.story(id)).toBe(`max-errors after ${MAX_ERRORS}`);
    }
    expect(ledger.cancelled.has('k0'), 'k0 failed three times: cancelled').toBe(true);
    expectIntact(ledger, sink.messages);
  });

  it('keeps every message within Max Errors Before Cancel across restarts, counted at the server', () => {
    for (const id of ledger.handedOut) {
      const atServer = sink.attempts.get(recipientOf(id)) ?? 0;
      const sendings = ledger.sendings.get(id) ?? [];
      const settled = [
        ...(ledger.sent.get(id) ?? []).map((s) => s.attempts),
        ledger.cancelled.get(id)?.attempts ?? 0,
      ];
      const story = ledger.story(id);
      expect(atServer, `attempts the server saw: ${story}`).toBeLessThanOrEqual(MAX_ERRORS);
      expect(atServer, `each attempt at the server was announced: ${story}`).toBeLessThanOrEqual(
        sendings.length,
      );
      expect(sendings.length, `sending events: ${story}`).toBeLessThanOrEqual(MAX_ERRORS);
      // the count survives each restart: every attempt's number is above the last one's
      for (let i = 1; i < sendings.length; i += 1) {
        expect(sendings[i] as number, `attempt numbers: ${story}`).toBeGreaterThan(sendings[i - 1] as number);
      }
      expect(Math.max(...settled), `attempts when settled: ${story}`).toBeLessThanOrEqual(MAX_ERRORS);
      if (!ledger.sent.has(id) && !ledger.cancelled.has(id)) {
        // delivered, its record removed, and the process killed before it said `sent`: its last attempt was under
        // way at that kill, and the server has the message
        expect(ledger.inFlightAtKills.has(id), `no outcome, not under way at a kill: ${story}`).toBe(true);
        expect(atServer, `no outcome, not at the server: ${story}`).toBeGreaterThan(0);
        continue;
      }
      expect(Math.max(...settled), `attempts when settled: ${story}`).toBeGreaterThanOrEqual(sendings.length);
    }
  });

  it('brings back at each resume exactly what the killed process left, and nothing else', () => {
    for (const [i, proc] of ledger.procs.slice(1).entries()) {
      // A message under way at this kill or an earlier one whose delivery its process had recorded (its record
      // removed) but not yet reported as sent is not owed: the server has it. Every other message accepted and not
      // settled is.
      const owed = [...(owedAtKills[i] ?? [])].filter((id) => {
        const kill = ledger.inFlightAtKills.get(id);
        const deliveredUnreported = kill !== undefined && kill <= i && byKey.has(id) && !proc.resumed.has(id);
        return !deliveredUnreported;
      });
      expectConsistentResume(proc, new Set(owed), ledger.handedOut);
    }
  });

  it('sends a duplicate only of a message under way at a kill, with the same Message-ID', () => {
    const duplicates = [...byKey].filter(([, copies]) => copies.length > 1);
    for (const [key, copies] of byKey) {
      const ids = new Set(copies.map((m) => m.headers.get('message-id')));
      expect(ids.size, `copies of ${key} carry one Message-ID`).toBe(1);
      for (const { messageId } of ledger.sent.get(key) ?? []) expect(ids.has(messageId), key).toBe(true);
    }
    // Under way: `sending` without an outcome at the kill. A message reported `sent` is never found again by the
    // next process: `sent` comes only once the spool's removal of its record is on disk.
    const stillStored = ledger.sentButStillStored();
    expect([...stillStored.keys()], 'reported sent, then resumed by the next process').toEqual([]);
    for (const [key] of duplicates) {
      expect(ledger.inFlightAtKills.has(key), `duplicate not under way at a kill: ${ledger.story(key)}`).toBe(
        true,
      );
    }
    expect(duplicates.length).toBeLessThanOrEqual(ledger.inFlightAtKills.size);
  });
});

describe('spool: SIGKILL during the first writes', () => {
  let sink: SmtpSink;
  let root: string;
  const ledger = new Ledger();
  let resumed: Proc;
  let owedAtKill = new Set<string>();
  const ids = Array.from({ length: 300 }, (_, i) => `w${i}`);

  beforeAll(async () => {
    sink = await startSmtpSink();
    root = await mkdtemp(join(tmpdir(), 'messenger-email-kill-'));
    const dir = join(root, 'spool');
    // every message handed over at once: the first changes are in the journal, more on their way, when the kill lands
    const first = await startProc(ledger, dir, sink.port, ids, ids.length);
    await poll('the first changes in the journal', async () => (await journalBytes(dir)) > 0);
    await kill(first);
    owedAtKill = new Set([...ledger.accepted].filter((id) => !ledger.sent.has(id)));
    const acknowledged = ledger.accepted.size;
    resumed = await startProc(
      ledger,
      dir,
      sink.port,
      ids.filter((id) => !ledger.accepted.has(id)),
      64,
    );
    await ledger.until('the resumed process to finish', () => resumed.idle);
    await resumed.closed;
    console.log(
      `killed during its first writes: ${acknowledged} acknowledged, ${first.enqueuing.size} enqueue() calls pending; the next process found ${JSON.stringify(resumed.census)}; resumed ${resumed.report?.resumed}, recovered ${resumed.report?.recovered}, quarantined ${resumed.report?.quarantined}; copies at the server ${sink.messages.length}`,
    );
  }, 60_000);

  afterAll(async () => {
    for (const proc of ledger.procs) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await sink?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('resumes every record on disk, quarantines only the cut-off writes, and sends intact messages', () => {
    expect(ledger.problems).toEqual([]);
    const census = resumed.census as Census;
    expect(census.journal + census.messages, 'the kill landed after the first writes began').toBeGreaterThan(
      0,
    );
    expectConsistentResume(resumed, owedAtKill, ledger.handedOut);
    const byKey = copiesByKey(sink.messages);
    expect(ledger.accepted.size).toBe(ids.length);
    for (const id of ids) expect(byKey.has(id), ledger.story(id)).toBe(true);
    const stillStored = ledger.sentButStillStored();
    for (const [key, copies] of byKey) {
      const underWay = ledger.inFlightAtKills.has(key) || stillStored.has(key);
      if (copies.length > 1) expect(underWay, `duplicate: ${ledger.story(key)}`).toBe(true);
    }
    expectIntact(ledger, sink.messages);
  });
});
