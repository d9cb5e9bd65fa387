/**
 * `npm run bench [-- --quick] [-- --only throttle]`: every case side by side with its baseline in the same run,
 * written to bench/results.md. The sink runs in a process of its own; every case runs in a fresh process.
 * `--only NAME` runs one case (throughput, throttle, attachments, queue, spool) and prints it without writing a file.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inChild, machine, median, type Sink, startSink, startStats } from './lib.js';

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const runs = (name: string) => only === undefined || only === name;
const MiB = 2 ** 20;

interface Row {
  case: string;
  ours: string;
  baseline: string;
  ratio: string;
  target: string;
  pass: boolean | undefined;
}

const rows: Row[] = [];
const notes: string[] = [];
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const log = (text: string) => process.stdout.write(`${text}\n`);

function row(r: Row) {
  rows.push(r);
  const verdict = r.pass === undefined ? 'info' : r.pass ? 'PASS' : 'FAIL';
  log(
    `  ${verdict.padEnd(4)}  ${r.case}: ours ${r.ours} | baseline ${r.baseline} | ratio ${r.ratio} | target ${r.target}`,
  );
}

async function throttleCase(sink: Sink, plainMax: number) {
  log('1. Throttle precision');
  const rates = [1, 10, 100, 500, 999];
  for (const perSecond of rates) {
    const seconds = quick ? 2 : 3;
    const count = Math.max(3 * perSecond, Math.ceil(seconds * perSecond) + 1, 4);
    const results: Record<
      string,
      { sender: ReturnType<typeof startStats>; server: ReturnType<typeof startStats> }
    > = {};
    for (const variant of ['ours', 'pool-rateLimit', 'bottleneck'] as const) {
      if (quick && perSecond < 10 && variant !== 'ours') continue;
      await sink.reset();
      const { starts } = await inChild<{ starts: number[] }>('throttle', {
        variant,
        port: sink.port,
        perSecond,
        count,
      });
      const server = (await sink.stats()).mailFrom;
      results[variant] = {
        sender: startStats(starts, perSecond),
        server: startStats(server.slice(-count), perSecond),
      };
    }
    const ours = results.ours;
    if (ours === undefined) continue;
    const floor = perSecond === 999 ? Math.min(perSecond, plainMax) : perSecond;
    const describe = (s: (typeof results)[string] | undefined) =>
      s === undefined
        ? 'skipped'
        : `server ${fmt(s.server.rate)}/s, max ${s.server.maxWindow} in 1 s (sender's count ${s.sender.maxWindow}), server jitter p50 ${fmt(s.server.jitterP50, 2)} p99 ${fmt(s.server.jitterP99, 2)} ms`;
    row({
      case: `throttle R=${perSecond}: max MAIL FROM in any sliding 1 s, counted by the server`,
      ours: String(ours.server.maxWindow),
      baseline: `pool rateLimit ${results['pool-rateLimit']?.server.maxWindow ?? 'n/a'}, Bottleneck minTime ${results.bottleneck?.server.maxWindow ?? 'n/a'}`,
      ratio: fmt(ours.server.maxWindow / perSecond, 3),
      target: `<= ${perSecond}`,
      pass: ours.server.maxWindow <= perSecond,
    });
    row({
      case: `throttle R=${perSecond}: achieved rate at the server`,
      ours: `${fmt(ours.server.rate, 2)}/s`,
      baseline: `pool rateLimit ${fmt(results['pool-rateLimit']?.server.rate ?? Number.NaN, 2)}/s, Bottleneck ${fmt(results.bottleneck?.server.rate ?? Number.NaN, 2)}/s`,
      ratio: fmt(ours.server.rate / floor, 3),
      target: perSecond === 999 ? `>= 0.98 × min(R, plain ${fmt(plainMax, 0)}/s)` : '>= 0.98 R',
      pass: ours.server.rate >= 0.98 * floor,
    });
    notes.push(
      `R=${perSecond}: ours ${describe(ours)}; pool rateLimit ${describe(results['pool-rateLimit'])}; Bottleneck ${describe(results.bottleneck)}`,
    );
  }
}

async function throughputCase(sink: Sink): Promise<number> {
  log('2. Throughput and CPU, and 5. events');
  const count = quick ? 1500 : 5000;
  const reps = quick ? 1 : 5;
  const runs: Record<string, { perSecond: number; cpuMsPerMessage: number }[]> = {
    ours: [],
    plain: [],
    paced: [],
    limited: [],
    ours20: [],
  };
  for (let rep = 0; rep < reps; rep += 1) {
    for (const [key, args] of [
      ['plain', { variant: 'plain' }],
      ['paced', { variant: 'plain-paced' }],
      ['limited', { variant: 'plain-limited' }],
      ['ours', { variant: 'ours', listeners: 0 }],
      ['ours20', { variant: 'ours', listeners: 20 }],
    ] as const) {
      await sink.reset();
      runs[key]?.push(await inChild('throughput', { ...args, port: sink.port, count }));
    }
  }
  const pick = (key: string, field: 'perSecond' | 'cpuMsPerMessage') =>
    median((runs[key] ?? []).map((r) => r[field]));
  const plainRate = pick('plain', 'perSecond');
  const oursRate = pick('ours', 'perSecond');
  const ours20Rate = pick('ours20', 'perSecond');
  const expected = Math.min(999, plainRate);
  row({
    case: `throughput, ${count} small messages, throttle 999, 5 connections`,
    ours: `${fmt(oursRate)}/s`,
    baseline: `plain pool ${fmt(plainRate)}/s`,
    ratio: fmt(oursRate / expected, 3),
    target: '>= 0.95 × min(999, plain)',
    pass: oursRate >= 0.95 * expected,
  });
  const oursCpu = pick('ours', 'cpuMsPerMessage');
  const plainCpu = pick('plain', 'cpuMsPerMessage');
  const pacedCpu = pick('paced', 'cpuMsPerMessage');
  const limitedCpu = pick('limited', 'cpuMsPerMessage');
  row({
    case: 'CPU per message (sender process): the same job, 999/s with at most 5 in flight',
    ours: `${fmt(oursCpu, 3)} ms`,
    baseline: `plain pool, 5 in flight, 999/s: ${fmt(limitedCpu, 3)} ms`,
    ratio: fmt(oursCpu / limitedCpu, 3),
    target: '<= 1.15',
    pass: oursCpu <= 1.15 * limitedCpu,
  });
  row({
    case: 'CPU per message against looser baselines (for reference)',
    ours: `${fmt(oursCpu, 3)} ms`,
    baseline: `plain pool fed 10 every 10 ms ${fmt(pacedCpu, 3)} ms; unthrottled ${fmt(plainCpu, 3)} ms`,
    ratio: `${fmt(oursCpu / pacedCpu, 3)}; ${fmt(oursCpu / plainCpu, 3)}`,
    target: 'none',
    pass: undefined,
  });
  row({
    case: 'events: throughput with 20 listeners on every event vs none',
    ours: `${fmt(ours20Rate)}/s`,
    baseline: `no listeners ${fmt(oursRate)}/s`,
    ratio: fmt(ours20Rate / oursRate, 3),
    target: '>= 0.97',
    pass: ours20Rate >= 0.97 * oursRate,
  });
  notes.push(
    `throughput runs (messages/s, CPU ms/message): ${Object.entries(runs)
      .map(
        ([k, v]) => `${k} ${v.map((r) => `${fmt(r.perSecond, 0)}/${fmt(r.cpuMsPerMessage, 3)}`).join(', ')}`,
      )
      .join('; ')}`,
  );
  return plainRate;
}

async function attachmentCase(sink: Sink, dir: string) {
  log('3. Big attachments');
  const size = quick ? 20 * MiB : 100 * MiB;
  const file = join(dir, 'attachment.bin');
  const out = createWriteStream(file);
  const chunk = Buffer.alloc(MiB, 0x5a);
  for (let i = 0; i < size / MiB; i += 1) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'close');
  const reps = quick ? 1 : 3;
  for (const mode of ['path', 'stream'] as const) {
    const results: Record<string, number[]> = { ours: [], plain: [] };
    for (let rep = 0; rep < reps; rep += 1) {
      for (const variant of ['plain', 'ours'] as const) {
        await sink.reset();
        const r = await inChild<{ peakAboveMb: number }>('attachment', {
          variant,
          mode,
          port: sink.port,
          file,
        });
        results[variant]?.push(r.peakAboveMb);
      }
    }
    const ours = median(results.ours ?? []);
    const plain = median(results.plain ?? []);
    row({
      case: `${(await stat(file)).size / MiB} MiB attachment by ${mode}: peak RSS above baseline`,
      ours: `${fmt(ours)} MB`,
      baseline: `plain ${fmt(plain)} MB`,
      ratio: fmt(ours / plain, 3),
      target: '<= 1.2 × plain (+2 MB noise floor) and < 40 MB',
      pass: ours <= Math.max(1.2 * plain, plain + 2) && ours < 40,
    });
    notes.push(
      `attachment ${mode} peaks (MB above baseline): ours ${results.ours?.map((v) => fmt(v)).join(', ')}; plain ${results.plain?.map((v) => fmt(v)).join(', ')}`,
    );
  }
}

async function spoolCase(sink: Sink, dir: string) {
  log('5. The spool against the in-memory outbox');
  const count = quick ? 3000 : 10_000;
  const enqueueCount = quick ? 20_000 : 100_000;
  type S = {
    perSecond: number;
    enqueuePerSecond: number;
    diskPerMessage: number;
    resumeSeconds: number;
    heapPerMessage: number;
  };
  await sink.reset();
  const memory = await inChild<S>('spool', {
    outbox: 'memory',
    port: sink.port,
    count,
    enqueueCount,
    dir: `${dir}/m`,
  });
  await sink.reset();
  const spooled = await inChild<S>('spool', {
    outbox: 'spool',
    port: sink.port,
    count,
    enqueueCount,
    dir: `${dir}/s`,
    resume: true,
  });
  row({
    case: `spool: throughput, ${count} small messages, throttle 999, 5 connections`,
    ours: `${fmt(spooled.perSecond)}/s`,
    baseline: `memory outbox ${fmt(memory.perSecond)}/s`,
    ratio: fmt(spooled.perSecond / memory.perSecond, 3),
    target: '>= 0.95',
    pass: spooled.perSecond >= 0.95 * memory.perSecond,
  });
  row({
    case: `spool: durable enqueue of ${enqueueCount} small messages (resolved = fsynced)`,
    ours: `${fmt(spooled.enqueuePerSecond, 0)}/s`,
    baseline: `memory outbox ${fmt(memory.enqueuePerSecond, 0)}/s`,
    ratio: fmt(spooled.enqueuePerSecond / memory.enqueuePerSecond, 3),
    target: '>= 5000/s',
    pass: spooled.enqueuePerSecond >= 5000,
  });
  row({
    case: `spool: resume of ${enqueueCount} spooled messages`,
    ours: `${fmt(spooled.resumeSeconds)} s, ${fmt(spooled.heapPerMessage, 0)} B heap each`,
    baseline: 'none (memory keeps nothing)',
    ratio: '-',
    target: '< 10 s and < 2048 B',
    pass: spooled.resumeSeconds < 10 && spooled.heapPerMessage < 2048,
  });
  row({
    case: 'spool: disk per small message',
    ours: `${fmt(spooled.diskPerMessage, 0)} B`,
    baseline: 'none',
    ratio: '-',
    target: 'reported',
    pass: undefined,
  });
}

async function queueCase(sink: Sink) {
  log('4. A deep queue');
  const count = quick ? 20_000 : 100_000;
  type Q = {
    enqueuePerSecond: number;
    bytesPerMessage: number;
    afterVsBefore: number;
    heapBeforeMb: number;
    heapAfterMb: number;
  };
  const ours = await inChild<Q>('queue', { variant: 'ours', port: sink.port, count });
  const plain = await inChild<Q>('queue', { variant: 'plain', port: sink.port, count });
  row({
    case: `${count} messages queued at throttle 1: heap per queued message`,
    ours: `${fmt(ours.bytesPerMessage, 0)} B`,
    baseline: `plain pool queue ${fmt(plain.bytesPerMessage, 0)} B`,
    ratio: fmt(ours.bytesPerMessage / plain.bytesPerMessage, 3),
    target: '<= 2048 B',
    pass: ours.bytesPerMessage <= 2048,
  });
  row({
    case: 'enqueue rate',
    ours: `${fmt(ours.enqueuePerSecond, 0)}/s`,
    baseline: `plain pool ${fmt(plain.enqueuePerSecond, 0)}/s`,
    ratio: fmt(ours.enqueuePerSecond / plain.enqueuePerSecond, 3),
    target: '>= 20000/s',
    pass: ours.enqueuePerSecond >= 20_000,
  });
  row({
    case: 'heap after close() and GC, against before',
    ours: `${fmt(ours.heapAfterMb)} MB (before ${fmt(ours.heapBeforeMb)} MB)`,
    baseline: `plain pool ${fmt(plain.heapAfterMb)} MB (before ${fmt(plain.heapBeforeMb)} MB)`,
    ratio: fmt(ours.afterVsBefore, 3),
    target: '<= 1.10',
    pass: ours.afterVsBefore <= 1.1,
  });
}

const started = Date.now();
const dir = join(process.cwd(), 'bench', '.tmp');
await mkdir(dir, { recursive: true });
const sink = await startSink();
log(`messenger-email benchmarks${quick ? ' (quick)' : ''}; sink on 127.0.0.1:${sink.port}`);
try {
  const plainMax = runs('throughput') ? await throughputCase(sink) : Number.POSITIVE_INFINITY;
  if (runs('throttle')) await throttleCase(sink, plainMax);
  if (runs('attachments')) await attachmentCase(sink, dir);
  if (runs('queue')) await queueCase(sink);
  if (runs('spool')) await spoolCase(sink, dir);
} finally {
  sink.stop();
  await rm(dir, { recursive: true, force: true });
}

const failed = rows.filter((r) => r.pass === false).length;
const table = [
  '| case | ours | baseline | ratio | target | result |',
  '|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.case} | ${r.ours} | ${r.baseline} | ${r.ratio} | ${r.target} | ${r.pass === undefined ? 'info' : r.pass ? 'pass' : 'FAIL'} |`,
  ),
].join('\n');
const report = `# Benchmark results

Run ${new Date().toISOString()}${quick ? ' with --quick (shorter runs: not the figures the targets are judged on)' : ''}, in ${((Date.now() - started) / 1000).toFixed(0)} s.

Machine: ${await machine()}.

The sink is smtp-server in its own process (plain SMTP on 127.0.0.1). Every case runs in a fresh process against
the built package. Plain nodemailer runs its pool with the Mailer's pool settings (5 connections, 1,000 messages
per connection). The throttle is judged where the relay counts it: the MAIL FROM commands the sink received, by
the sink's own clock. The sender's own count of starts (when an attempt is handed to the transport, or for nodemailer's
pool rateLimit when the client writes MAIL FROM) is given in the notes.
Medians of ${quick ? 1 : '3 (attachments) or 5 (throughput)'} runs.

CPU per message is compared on the same job: plain nodemailer fed at 999 a second with at most 5 messages in
flight, as the Mailer runs (one message per free connection). For reference, the table also gives plain nodemailer
fed in bursts of 10 every 10 ms, and unthrottled (about 2,000 a second here): a pool whose own queue is never empty
spends less per message, since each freed connection finds the next message waiting.

${table}

${failed === 0 ? 'Every target passed.' : `${failed} target(s) failed.`}

## Details

${notes.map((n) => `- ${n}`).join('\n')}
`;
const file = quick ? 'results-quick.md' : 'results.md';
if (only === undefined) await writeFile(join('bench', file), report);
log(
  `\n${failed === 0 ? 'every target passed' : `${failed} target(s) failed`}${only === undefined ? `; written to bench/${file}` : ''}`,
);
process.exit(failed === 0 ? 0 : 1);
