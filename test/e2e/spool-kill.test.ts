/**
 * Durability where the user sees it: a real child process with a spool sends 500 messages to a real SMTP server
 * with transient faults and is killed with SIGKILL, while it stores messages and while attempts are under way;
 * a new process resumes each time. Counted at the server: nothing accepted is lost, no message gets more attempts
 * than Max Errors Before Cancel across the restarts, and every duplicate is a message that was in flight at a
 * kill, with the same Message-ID. The duplicates are printed, never hidden.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const child = resolve(import.meta.dirname, 'fixtures/spool-child.mjs');
const TOTAL = 500;
const MAX_ERRORS = 3;

/** What the processes reported, by message id. */
interface Ledger {
  accepted: Set<string>;
  attempts: Map<string, number>;
  delivered: Set<string>;
  cancelled: Map<string, string>;
  unknown: Set<string>;
  /** Messages with an attempt under way (sending seen, outcome not yet) at each kill. */
  inFlightAtKills: Set<string>;
  resumeReports: string[];
  problems: string[];
}

interface Run {
  process: ChildProcess;
  /** Resolves when a line matching the test arrives (or the process ends). */
  until(test: (ledger: Ledger, line: string) => boolean): Promise<void>;
  ended: Promise<void>;
}

function start(dir: string, port: number, idsFile: string, ledger: Ledger): Run {
  const proc = spawn(process.execPath, [child, dir, String(port), idsFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const open = new Set<string>(); // sending, not settled, in this process
  const sentHere = new Set<string>(); // sent by this process: its record may not be removed yet at a kill
  const waiters: { test: (ledger: Ledger, line: string) => boolean; resolve: () => void }[] = [];
  let buffer = '';
  let stderr = '';
  const ended = new Promise<void>((done) => proc.once('exit', () => done()));
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const [kind, id = '', a = '', b = ''] = line.split(' ');
      if (kind === 'A') ledger.accepted.add(id);
      if (kind === 'S') {
        ledger.attempts.set(id, (ledger.attempts.get(id) ?? 0) + 1);
        open.add(id);
      }
      if (kind === 'D') {
        ledger.delivered.add(id);
        open.delete(id);
        sentHere.add(id);
      }
      if (kind === 'F') {
        open.delete(id);
        if (b === 'unknown') ledger.unknown.add(id);
      }
      if (kind === 'C') {
        ledger.cancelled.set(id, `${a} after ${b}`);
        open.delete(id);
      }
      if (kind === 'R') ledger.resumeReports.push(`resumed ${id}, recovered ${a}, quarantined ${b}`);
      if (kind === 'X' || kind === 'E') ledger.problems.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.test(ledger, line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      newline = buffer.indexOf('\n');
    }
  });
  void ended.then(() => {
    if (proc.signalCode === 'SIGKILL') {
      for (const id of open) ledger.inFlightAtKills.add(id);
      // `sent` is emitted before the spool's record removal is on disk: a kill in between sends it again
      for (const id of sentHere) ledger.inFlightAtKills.add(id);
    }
    else if (proc.exitCode !== 0) ledger.problems.push(`child exited with ${proc.exitCode}: ${stderr}`);
    for (const waiter of waiters.splice(0)) waiter.resolve();
  });
  return {
    process: proc,
    ended,
    until: (test) => new Promise<void>((resolve) => waiters.push({ test, resolve })),
  };
}

async function kill(run: Run): Promise<void> {
  run.process.kill('SIGKILL');
  await run.ended;
}

describe('spool: SIGKILL in the middle, then resume', () => {
  let sink: SmtpSink;
  let dir: string;

  beforeAll(async () => {
    sink = await startSmtpSink();
    dir = await mkdtemp(join(tmpdir(), 'messenger-email-kill-'));
  });
  afterAll(async () => {
    await sink?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loses nothing accepted, keeps attempts within the maximum, and duplicates only what was in flight', async () => {
    const ids = Array.from({ length: TOTAL }, (_, i) => `k${i}`);
    for (let i = 0; i < TOTAL; i += 1) {
      if (i % 7 === 0) sink.failNext(`r${i}@example.org`, { type: 'data', code: 451 });
      if (i % 11 === 0) sink.failNext(`r${i}@example.org`, { type: 'drop', stage: 'data' });
    }
    const ledger: Ledger = {
      accepted: new Set(),
      attempts: new Map(),
      delivered: new Set(),
      cancelled: new Map(),
      unknown: new Set(),
      inFlightAtKills: new Set(),
      resumeReports: [],
      problems: [],
    };
    const idsFile = join(tmpdir(), `messenger-email-kill-ids-${process.pid}.json`);
    const pending = () => ids.filter((id) => !ledger.accepted.has(id));
    const startRound = async () => {
      await writeFile(idsFile, JSON.stringify(pending()));
      return start(dir, sink.port, idsFile, ledger);
    };

    // 1. killed while it is still storing messages (batches of stores in flight)
    let run = await startRound();
    await run.until((l) => l.accepted.size >= 120);
    await kill(run);
    const acceptedAtFirstKill = ledger.accepted.size;
    // 2. and 3. killed while attempts are under way
    for (const target of [150, 300]) {
      run = await startRound();
      await run.until((l, line) => l.delivered.size >= target && line.startsWith('S '));
      await kill(run);
    }
    // 4. runs to the end
    run = await startRound();
    await run.until((_, line) => line.startsWith('IDLE'));
    await run.ended;

    const byKey = new Map<string, string[]>();
    for (const message of sink.messages) {
      const key = message.headers.get('x-test-key') ?? '';
      const list = byKey.get(key) ?? [];
      list.push(message.headers.get('message-id') ?? '');
      byKey.set(key, list);
    }
    const duplicates = [...byKey].filter(([, copies]) => copies.length > 1);
    const maxAttempts = Math.max(...ledger.attempts.values());
    console.log(
      [
        `accepted ${ledger.accepted.size} (${acceptedAtFirstKill} before the first kill), delivered ${byKey.size} distinct at the server, cancelled ${ledger.cancelled.size}`,
        `in flight at the kills: ${ledger.inFlightAtKills.size}; cut-off attempts recovered: ${ledger.unknown.size}`,
        `duplicates at the server: ${duplicates.length}${duplicates.length > 0 ? ` (${duplicates.map(([k]) => k).join(', ')})` : ''}`,
        `most attempts of one message: ${maxAttempts}; resumes: ${ledger.resumeReports.join('; ')}`,
      ].join('\n'),
    );

    expect(ledger.problems).toEqual([]);
    expect(ledger.accepted.size).toBe(TOTAL);
    for (const id of ledger.accepted) {
      // delivered (seen at the server) or cancelled by the rules: never lost
      expect(byKey.has(id) || ledger.cancelled.has(id), `message ${id} was lost`).toBe(true);
    }
    for (const [id, reason] of ledger.cancelled) expect(reason, id).toMatch(/^max-errors after 3$/);
    expect(maxAttempts).toBeLessThanOrEqual(MAX_ERRORS);
    for (const [key, copies] of duplicates) {
      expect(ledger.inFlightAtKills.has(key), `duplicate ${key} was not in flight at a kill`).toBe(true);
      expect(new Set(copies).size, `copies of ${key} carry one Message-ID`).toBe(1);
    }
    expect(duplicates.length).toBeLessThanOrEqual(ledger.inFlightAtKills.size);
    expect(ledger.inFlightAtKills.size).toBeGreaterThan(0); // the kills did land during attempts
  }, 120_000);
});
