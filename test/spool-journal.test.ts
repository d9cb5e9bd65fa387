/**
 * The spool's journal: a change is durable once its line is flushed, the record files catch up in checkpoints
 * (a full segment, close, the next open), a line cut off at a crash is not a change, and a damaged one is
 * reported without losing the others.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFile,
  mkdir,
  open as openFile,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Outbox, OutboxMessage } from '../src/index.js';
import { eachLimited } from '../src/outbox/spool/dir-tools.js';
import { GroupCommit } from '../src/outbox/spool/group-commit.js';
import { JournalWriter, readJournal } from '../src/outbox/spool/journal.js';
import { crc32InJs, decodeChange, encodeChange } from '../src/outbox/spool/journal-line.js';
import { recordFileName, SpoolLayout, TmpFiles } from '../src/outbox/spool/layout.js';
import { decodeRecord, encodeRecord, RecordError, sealRecord } from '../src/outbox/spool/record.js';
import { RecordStore } from '../src/outbox/spool/record-store.js';
import { clock, openSpool, spoolMessage, tempDir as tempDirOf } from './support/spool-outbox-harness.js';

const open = (dir: string): Outbox => openSpool(dir);
const tempDir = (): Promise<string> => tempDirOf('messenger-email-journal-');

const message = spoolMessage;

/** What the next process finds after this one is killed now: a copy of the directory, without the lock. */
async function crashCopy(dir: string): Promise<string> {
  const copy = join(await tempDir(), 'copy');
  execFileSync('cp', ['-a', dir, copy]);
  await rm(join(copy, 'lock'), { force: true });
  return copy;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'journal'))).filter((name) => name.endsWith('.log')).sort();
}

/**
 * A record store on its own, with small segments so that checkpoints happen after a few changes, and as many full
 * segments kept while mostly current as `kept` says.
 */
async function store(dir: string, segmentBytes: number, kept?: number): Promise<RecordStore> {
  const layout = new SpoolLayout(dir);
  for (const sub of [layout.messages, layout.tmp, layout.quarantine, layout.journal]) {
    await mkdir(sub, { recursive: true });
  }
  const records = new RecordStore(layout, new GroupCommit(new TmpFiles(layout.tmp)), segmentBytes, kept);
  await records.open();
  return records;
}

describe('the spool journal', () => {
  it('encodes one change a line, and refuses a line whose checksum does not match', () => {
    const put = encodeChange('m-a.rec', 'line one\nline two');
    expect(put.at(-1)).toBe(0x0a);
    expect(put.subarray(0, -1).includes(0x0a)).toBe(false);
    expect(decodeChange(put.subarray(0, -1))).toEqual({ name: 'm-a.rec', text: 'line one\nline two' });
    expect(decodeChange(encodeChange('m-a.rec', null).subarray(0, -1))).toEqual({
      name: 'm-a.rec',
      text: null,
    });
    const changed = Buffer.from(put.subarray(0, -1));
    changed[changed.length - 3] = (changed[changed.length - 3] as number) ^ 0x01;
    expect(decodeChange(changed)).toBeUndefined();
    expect(decodeChange(Buffer.from('not a line'))).toBeUndefined();
    expect(() => encodeChange('m-a.rec', 'a\tb')).toThrow(TypeError); // records never hold a TAB
  });

  it('keeps an accepted message through a crash before any record file is written', async () => {
    const dir = join(await tempDir(), 'spool');
    const outbox = open(dir);
    await outbox.add(message('early'));
    await outbox.add(message('second'));
    const [claimed] = await outbox.claim(1, clock.now()); // 'early': its attempt is recorded as started
    await outbox.settle(claimed as OutboxMessage, { state: 'sent' });
    await outbox.add(message('late'));
    expect(await readdir(join(dir, 'messages'))).toEqual([]); // nothing in files yet: all in the journal
    const copy = await crashCopy(dir);
    const loaded = await open(copy).load();
    expect(loaded.quarantined).toEqual([]);
    expect(loaded.messages.map((m) => [m.message.id, m.recovered]).sort()).toEqual([
      ['late', false],
      ['second', false],
    ]);
    // opening wrote the journal into the files and removed it
    expect((await readdir(join(copy, 'messages'))).sort()).toEqual(['m-late.rec', 'm-second.rec']);
    expect(await segments(copy)).toEqual(['000000000002.log']); // the old one gone; the new process's own begun
  });

  it('counts an attempt recorded only in the journal as cut off after a crash', async () => {
    const dir = join(await tempDir(), 'spool');
    const outbox = open(dir);
    await outbox.add(message('flight'));
    await outbox.claim(1, clock.now());
    const loaded = await open(await crashCopy(dir)).load();
    expect(loaded.messages).toHaveLength(1);
    expect(loaded.messages[0]).toMatchObject({
      recovered: true,
      message: { id: 'flight', attempts: 1, failures: 1 },
    });
  });

  it('ignores a line cut off at the end of a segment (never acknowledged), silently', async () => {
    const dir = join(await tempDir(), 'spool');
    await open(dir).add(message('kept'));
    const copy = await crashCopy(dir);
    const [last] = (await segments(copy)).slice(-1);
    const cut = encodeChange(recordFileName('cut'), 'messenger-email-spool 1 abc\n{}\n{}');
    await appendFile(join(copy, 'journal', last as string), cut.subarray(0, cut.length - 9));
    const loaded = await open(copy).load();
    expect(loaded.quarantined).toEqual([]);
    expect(loaded.messages.map((m) => m.message.id)).toEqual(['kept']);
  });

  it('reports a damaged line, keeps a copy of its segment in quarantine/, and loads every other change', async () => {
    const dir = join(await tempDir(), 'spool');
    const outbox = open(dir);
    await outbox.add(message('first'));
    await outbox.add(message('damaged'));
    await outbox.add(message('third'));
    const copy = await crashCopy(dir);
    const [name] = await segments(copy);
    const path = join(copy, 'journal', name as string);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('Absent today (damaged)', 'Absent today (dAmaged)'));
    const loaded = await open(copy).load();
    expect(loaded.messages.map((m) => m.message.id).sort()).toEqual(['first', 'third']);
    expect(loaded.quarantined).toEqual([
      {
        file: expect.stringMatching(new RegExp(`^${join(copy, 'quarantine')}/journal-\\d+-${name}$`)),
        reason: expect.stringMatching(
          /^1 line of the spool's journal .* could not be read \(changed on disk\)/,
        ),
      },
    ]);
    const copied = (loaded.quarantined[0] as { file: string }).file;
    expect(await readFile(`${copied}.why`, 'utf8')).toMatch(/could not be read/);
  });

  it('writes full segments still mostly current into the record files once too many are kept', async () => {
    const dir = await tempDir();
    const records = await store(dir, 2048, 2);
    const text = (i: number) => `messenger-email-spool 1 x\n{"n":${i}}\n${'b'.repeat(300)}`;
    for (let i = 0; i < 40; i += 1) await records.put(`m-${i}.rec`, text(i), 'create');
    for (let i = 0; i < 40; i += 2) await records.remove(`m-${i}.rec`);
    await records.settled();
    const journal = await segments(dir);
    expect(journal.length).toBeLessThanOrEqual(4); // the current segment and at most two kept, one being written
    expect((await readdir(join(dir, 'messages'))).length).toBeGreaterThan(0); // written before close
    await expect(records.put('m-1.rec', 'again', 'create')).rejects.toMatchObject({ code: 'EEXIST' });
    await records.close();
    expect(await segments(dir)).toEqual([]);
    const left = (await readdir(join(dir, 'messages'))).sort();
    expect(left).toEqual(Array.from({ length: 20 }, (_, i) => `m-${2 * i + 1}.rec`).sort());
    expect(await readFile(join(dir, 'messages', 'm-7.rec'), 'utf8')).toBe(text(7));
    const again = await store(dir, 2048);
    expect((await again.read('m-7.rec')).toString('utf8')).toBe(text(7));
    await expect(again.read('m-8.rec')).rejects.toMatchObject({ code: 'ENOENT' });
    await again.close();
  });

  it('copies the few current lines of a full segment forward instead of writing their files', async () => {
    const dir = await tempDir();
    const records = await store(dir, 4096);
    const text = (i: number, v: number) =>
      `messenger-email-spool 1 x\n{"n":${i},"v":${v}}\n${'b'.repeat(100)}`;
    // three records wait while hundreds come and go: every full segment is mostly superseded lines
    for (const i of [1, 2, 3]) await records.put(`m-keep${i}.rec`, text(i, 0), 'create');
    for (let i = 0; i < 300; i += 1) {
      await records.put(`m-churn${i}.rec`, text(100 + i, 0), 'create');
      await records.remove(`m-churn${i}.rec`);
      if (i % 50 === 0) await records.put('m-keep2.rec', text(2, i), 'replace');
    }
    await records.settled();
    expect(await readdir(join(dir, 'messages'))).toEqual([]); // no file written: carried forward
    expect((await segments(dir)).length).toBeLessThanOrEqual(2); // the old segments retired all the same
    expect((await records.read('m-keep2.rec')).toString('utf8')).toContain('"v":250');
    // a crash now: the next process finds every waiting record, each as last written
    const copy = await crashCopy(dir);
    const again = await store(copy, 4096);
    expect((await readdir(join(copy, 'messages'))).sort()).toEqual([
      'm-keep1.rec',
      'm-keep2.rec',
      'm-keep3.rec',
    ]);
    expect((await again.read('m-keep2.rec')).toString('utf8')).toContain('"v":250');
    expect((await again.read('m-keep3.rec')).toString('utf8')).toContain('"n":3,"v":0');
    await again.close();
    await records.close();
    expect((await readdir(join(dir, 'messages'))).sort()).toEqual([
      'm-keep1.rec',
      'm-keep2.rec',
      'm-keep3.rec',
    ]);
  });

  it('keeps a backlog in the journal without writing its files, and retires it as its messages go', async () => {
    const dir = await tempDir();
    const records = await store(dir, 4096);
    const text = (i: number) => `messenger-email-spool 1 x\n{"n":${i}}\n${'b'.repeat(200)}`;
    for (let i = 0; i < 100; i += 1) await records.put(`m-${i}.rec`, text(i), 'create'); // about 6 segments
    await records.settled();
    expect(await readdir(join(dir, 'messages'))).toEqual([]); // a backlog: kept in the journal, no file
    expect((await segments(dir)).length).toBeGreaterThan(4);
    for (let i = 0; i < 95; i += 1) await records.remove(`m-${i}.rec`); // most of it sent
    for (let i = 0; i < 60; i += 1) {
      await records.put(`m-churn${i}.rec`, text(1000 + i), 'create');
      await records.remove(`m-churn${i}.rec`);
    }
    await records.settled();
    expect(await readdir(join(dir, 'messages'))).toEqual([]);
    expect((await segments(dir)).length).toBeLessThanOrEqual(2); // retired: the last five copied forward
    const copy = await crashCopy(dir);
    const again = await store(copy, 4096);
    const expected = Array.from({ length: 5 }, (_, i) => `m-${95 + i}.rec`).sort();
    expect((await readdir(join(copy, 'messages'))).sort()).toEqual(expected);
    expect((await again.read('m-97.rec')).toString('utf8')).toBe(text(97));
    await again.close();
    await records.close();
    expect((await readdir(join(dir, 'messages'))).sort()).toEqual(expected);
  });

  it('never lets a copied line overtake a change made while segments were retired', async () => {
    const dir = await tempDir();
    const records = await store(dir, 8192);
    const text = (i: number, v: number) =>
      `messenger-email-spool 1 x\n{"n":${i},"v":${v}}\n${'b'.repeat(60)}`;
    const keeps = 20;
    for (let i = 0; i < keeps; i += 1) await records.put(`m-keep${i}.rec`, text(i, 0), 'create');
    const last: number[] = Array.from({ length: keeps }, () => 0);
    const changes: Promise<unknown>[] = [];
    // each waiting record changed every 20th batch, in the same batch as a churning one: its line before is in an
    // older segment, and some of these changes are still on their way when that segment is retired
    for (let v = 1; v <= 800; v += 1) {
      const i = v % keeps;
      last[i] = v;
      changes.push(records.put(`m-keep${i}.rec`, text(i, v), 'replace'));
      await records.put(`m-churn${v}.rec`, text(100, v), 'create');
      await records.remove(`m-churn${v}.rec`);
    }
    await Promise.all(changes);
    await records.settled();
    const copy = await crashCopy(dir);
    const again = await store(copy, 8192);
    // nothing removed comes back, and nothing waiting is older than its last change
    expect((await readdir(join(copy, 'messages'))).sort()).toEqual(
      Array.from({ length: keeps }, (_, i) => `m-keep${i}.rec`).sort(),
    );
    for (let i = 0; i < keeps; i += 1) {
      expect((await records.read(`m-keep${i}.rec`)).toString('utf8')).toContain(`"v":${last[i]}}`);
      expect((await again.read(`m-keep${i}.rec`)).toString('utf8')).toContain(`"v":${last[i]}}`);
    }
    await again.close();
    await records.close();
  });

  it('gives the same records when a journal is written into the files twice (a crash while it was written)', async () => {
    const dir = join(await tempDir(), 'spool');
    const outbox = open(dir);
    for (const id of ['a', 'b', 'c']) await outbox.add(message(id));
    const [claimed] = await outbox.claim(1, clock.now());
    await outbox.settle(claimed as OutboxMessage, { state: 'sent' });
    const copy = await crashCopy(dir);
    const journalBefore = await readJournal(join(copy, 'journal'));
    const second = await crashCopy(copy); // the same journal, to be written twice
    const first = await open(copy).load();
    // the second copy: its files written once already (as if the crash came just before the journal was removed)
    execFileSync('cp', ['-a', join(copy, 'messages', '.'), join(second, 'messages')]);
    const twice = await open(second).load();
    const byId = (a: { message: { id: string } }, b: { message: { id: string } }) =>
      a.message.id.localeCompare(b.message.id);
    expect(twice.messages.sort(byId)).toEqual(first.messages.sort(byId));
    expect(first.messages.map((m) => m.message.id)).toEqual(['b', 'c']);
    expect([...journalBefore.changes.keys()].sort()).toEqual(['m-a.rec', 'm-b.rec', 'm-c.rec']);
  });
});

describe('retiring journal segments, against what goes wrong', () => {
  const text = (i: number, v = 0, pad = 100) =>
    `messenger-email-spool 1 x\n{"n":${i},"v":${v}}\n${'b'.repeat(pad)}`;

  it('never copies a line whose newline was damaged on disk (the copy would swallow the next line)', async () => {
    const dir = await tempDir();
    const records = await store(dir, 4096, 8);
    await records.put('m-keep.rec', text(1, 1), 'create');
    const first = join(dir, 'journal', '000000000001.log');
    const newline = (await readFile(first)).indexOf(0x0a);
    const file = await openFile(first, 'r+');
    await file.write(Buffer.from('X'), 0, 1, newline);
    await file.close();
    for (let i = 0; i < 40; i += 1) {
      await records.put(`m-c${i}.rec`, text(100 + i), 'create');
      await records.remove(`m-c${i}.rec`);
    }
    await records.settled();
    await records.put('m-other.rec', text(2, 2), 'create');
    const again = await store(await crashCopy(dir), 4096, 8);
    expect((await again.read('m-other.rec')).toString('utf8')).toBe(text(2, 2)); // not swallowed
    expect((await again.read('m-keep.rec')).toString('utf8')).toBe(text(1, 1)); // its file was written instead
    await again.close();
    await records.close();
  });

  it('removes the files of messages sent since the last start while it runs, not at close', async () => {
    const dir = await tempDir();
    let records = await store(dir, 16384, 8);
    for (let i = 0; i < 200; i += 1) await records.put(`m-b${i}.rec`, text(i), 'create');
    await records.close(); // a backlog in files, as a restart finds it
    records = await store(dir, 16384, 8);
    for (let i = 0; i < 200; i += 1) await records.remove(`m-b${i}.rec`);
    for (let i = 0; i < 300; i += 1) {
      await records.put(`m-c${i}.rec`, text(1000 + i, 0, 400), 'create');
      await records.remove(`m-c${i}.rec`);
    }
    await records.settled();
    expect((await readdir(join(dir, 'messages'))).length).toBeLessThan(10);
    expect((await segments(dir)).length).toBeLessThanOrEqual(2);
    await records.close();
    expect(await readdir(join(dir, 'messages'))).toEqual([]);
  });

  it('closes while a change that fills a segment is still on its way', async () => {
    const dir = await tempDir();
    const records = await store(dir, 1024);
    let i = 0;
    for (;;) {
      await records.put(`m-${i}.rec`, text(i), 'create');
      i += 1;
      const [first] = await segments(dir);
      if ((await stat(join(dir, 'journal', first as string))).size >= 1024) break;
    }
    const put = records.put(`m-${i}.rec`, text(i), 'create'); // begins segment 2: segment 1 is full
    await Promise.all([put, records.close()]);
    expect((await readdir(join(dir, 'messages'))).length).toBe(i + 1);
  });

  it('goes on retiring segments after a kept one was cut short on disk', async () => {
    const dir = await tempDir();
    const records = await store(dir, 4096, 8);
    let n = 0;
    while ((await segments(dir)).length < 2) {
      await records.put(`m-k${n}.rec`, text(n), 'create');
      n += 1;
    }
    const first = join(dir, 'journal', '000000000001.log');
    await truncate(first, (await stat(first)).size - 20); // its last line cut
    for (let i = 0; i < n - 2; i += 1) await records.remove(`m-k${i}.rec`);
    for (let i = 0; i < 500; i += 1) {
      await records.put(`m-c${i}.rec`, text(100 + i), 'create');
      await records.remove(`m-c${i}.rec`);
    }
    await records.settled();
    expect((await segments(dir)).length).toBeLessThanOrEqual(2);
    await records.close();
    expect(await segments(dir)).toEqual([]);
  });
});

describe('the journal writer', () => {
  it('flushes a line asked for while a run of flushes is ending (never leaves one waiting)', async () => {
    const dir = await tempDir();
    const writer = new JournalWriter(dir, () => undefined);
    await writer.start(1);
    const line = (i: number) => encodeChange(`m-${i}.rec`, `record ${i}`);
    // each line asked for at another moment after the one before was flushed: the end of a run of flushes
    for (let i = 0; i < 300; i += 1) {
      await writer.append(line(i));
      const later = [
        () => Promise.resolve(),
        () => new Promise((resolve) => setImmediate(resolve)),
        () => new Promise((resolve) => process.nextTick(resolve)),
      ][i % 3] as () => Promise<unknown>;
      await later();
    }
    await writer.close(false);
    const { changes } = await readJournal(dir);
    expect(changes.size).toBe(300);
  }, 10_000);
});

describe('the journal, against what goes wrong', () => {
  it('computes the same CRC-32 as zlib where Node.js has none', () => {
    const data = randomBytes(4096);
    const zlibCrc = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
    expect(crc32InJs(Buffer.from('123456789'))).toBe(0xcbf43926); // the standard check value
    if (zlibCrc !== undefined) {
      expect(crc32InJs(data)).toBe(zlibCrc(data));
      expect(crc32InJs(data.subarray(100), crc32InJs(data.subarray(0, 100)))).toBe(zlibCrc(data));
    }
  });

  it('reports a damaged last line of a segment that is not the last one (it was acknowledged)', async () => {
    const dir = await tempDir();
    const first = encodeChange('m-a.rec', 'messenger-email-spool 1 x\n{}\n{}');
    const damaged = Buffer.from(encodeChange('m-b.rec', null));
    damaged[3] = damaged[3] === 0x30 ? 0x31 : 0x30;
    await writeFile(join(dir, '000000000001.log'), Buffer.concat([first, damaged]));
    await writeFile(join(dir, '000000000002.log'), encodeChange('m-c.rec', null));
    const { changes, problems } = await readJournal(dir);
    expect([...changes.keys()].sort()).toEqual(['m-a.rec', 'm-c.rec']);
    expect(problems).toEqual([
      { segment: 1, reason: expect.stringMatching(/^1 line of the spool's journal/) },
    ]);
  });

  it('waits in close() for a change under way, and writes it into the files', async () => {
    const dir = await tempDir();
    const records = await store(dir, 1 << 20);
    const put = records.put('m-late.rec', 'messenger-email-spool 1 x\n{"late":true}\n{}', 'create');
    await records.close();
    await put;
    expect(await readFile(join(dir, 'messages', 'm-late.rec'), 'utf8')).toBe(
      'messenger-email-spool 1 x\n{"late":true}\n{}',
    );
    expect(await segments(dir)).toEqual([]);
  });

  it('skips a line damaged on disk while the process ran, and still removes the journal at close', async () => {
    const dir = await tempDir();
    const records = await store(dir, 1 << 20);
    await records.put('m-ok.rec', 'messenger-email-spool 1 x\n{"ok":true}\n{}', 'create');
    await records.put('m-bad.rec', 'messenger-email-spool 1 x\n{"bad":true}\n{}', 'create');
    const [name] = await segments(dir);
    const path = join(dir, 'journal', name as string);
    await writeFile(path, (await readFile(path, 'utf8')).replace('"bad":true', '"bad":fals'));
    await records.close();
    expect(await readdir(join(dir, 'messages'))).toEqual(['m-ok.rec']);
    expect(await segments(dir)).toEqual([]);
  });
});

describe('eachLimited', () => {
  it('starts nothing after a failure, and rejects only once the items under way have settled', async () => {
    const started: number[] = [];
    let running = 0;
    const failure = eachLimited([1, 2, 3, 4, 5, 6, 7, 8], 3, async (item) => {
      started.push(item);
      running += 1;
      await new Promise((resolve) => setTimeout(resolve, item === 2 ? 1 : 20));
      running -= 1;
      if (item === 2) throw new Error('two failed');
    });
    await expect(failure).rejects.toThrow('two failed');
    expect(running).toBe(0);
    expect(started).toEqual([1, 2, 3]);
  });
});

describe('records in the journal', () => {
  it('go in without their SHA-256, and get it when they leave the journal (and only then decode)', () => {
    const header = {
      id: 'r1',
      kind: 'standard' as const,
      state: 'queued' as const,
      queuedAt: 1,
      attempts: 0,
      failures: 0,
      recipients: 1,
      blobs: [],
      encrypted: false,
    };
    const unsealed = encodeRecord(header, '{"id":"r1"}', false).toString('utf8');
    expect(unsealed.split('\n')[0]).toBe('messenger-email-spool 1 -');
    expect(() => decodeRecord(Buffer.from(unsealed))).toThrow(RecordError);
    const sealed = sealRecord(unsealed);
    expect(sealed).toBe(encodeRecord(header, '{"id":"r1"}').toString('utf8'));
    expect(decodeRecord(Buffer.from(sealed)).header).toEqual(header);
    expect(sealRecord(sealed)).toBe(sealed);
  });
});
