/**
 * One server of a fleet, for test/fleet-outbox.test.ts: a Mailer on fleetOutbox and fleetPermits, aimed at the
 * parent's SMTP sink. Run with `node --import tsx`, one JSON argument; it reads commands as JSON lines on stdin and
 * speaks in JSON lines on stdout.
 *
 * Says `{"ready":true}`, then for each command:
 * - `{"enqueue":{"prefix":"b","count":100,"kind":"standard"}}`: hands over messages with ids `b-0`…, one at a
 *   time, and says `{"enqueued":"b","ok":n,"rejected":[{"code":…,"ms":…}]}`.
 * - `{"close":true}`: closes the Mailer and exits.
 *
 * Every attempt, delivery, failure, cancellation and outbox error is said as it happens: `{"sending":id}`, `{"sent":id}`,
 * `{"failed":id,"unknownOutcome":true|false}`, `{"cancelled":id,"reason":…}`, `{"outboxError":…}`.
 */
import { fleetOutbox, fleetPermits } from '../../src/fleet/index.js';
import { isMailerError, Mailer, type MessageKind } from '../../src/index.js';

interface ChildOptions {
  redisPort: number;
  queue: string;
  key: string;
  perSecond: number;
  smtpPort: number;
  lockMs?: number;
  maxConcurrent?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;

function say(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const connection = { host: '127.0.0.1', port: options.redisPort };
const mailer = new Mailer({
  settings: {
    defaultSenderAddress: 'messenger@district.k12.us',
    smtpHost: '127.0.0.1',
    smtpPort: options.smtpPort,
    throttlePerSecond: options.perSecond,
    minutesBetweenRetries: 0,
    maxErrorsBeforeCancel: 10,
  },
  outbox: fleetOutbox({ connection, queue: options.queue, lockMs: options.lockMs ?? 2000, pollMs: 50 }),
  permits: fleetPermits({ connection, key: options.key, leaseMs: options.lockMs ?? 2000 }),
  maxConcurrent: options.maxConcurrent ?? 2,
});
mailer.on('sending', (e) => say({ sending: e.id }));
mailer.on('sent', (e) => say({ sent: e.id }));
mailer.on('failed', (e) => say({ failed: e.id, unknownOutcome: e.unknownOutcome === true }));
mailer.on('cancelled', (e) => say({ cancelled: e.id, reason: e.reason }));
mailer.on('outboxError', (e) => say({ outboxError: e.error.message }));

async function enqueue(prefix: string, count: number, kind: MessageKind): Promise<void> {
  let ok = 0;
  const rejected: { id: string; code: string; ms: number }[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = performance.now();
    try {
      await mailer.enqueue(
        { to: `${prefix}-${i}@example.org`, subject: `${prefix}-${i}`, text: `message ${prefix}-${i}` },
        { id: `${prefix}-${i}`, kind },
      );
      ok += 1;
    } catch (error) {
      const code = isMailerError(error) ? error.code : String(error);
      rejected.push({ id: `${prefix}-${i}`, code, ms: performance.now() - started });
    }
  }
  say({ enqueued: prefix, ok, rejected });
}

let input = '';
process.stdin.on('data', (chunk: Buffer) => {
  input += chunk.toString('utf8');
  let end = input.indexOf('\n');
  while (end !== -1) {
    const command = JSON.parse(input.slice(0, end)) as {
      enqueue?: { prefix: string; count: number; kind?: MessageKind };
      close?: true;
    };
    input = input.slice(end + 1);
    end = input.indexOf('\n');
    if (command.enqueue !== undefined) {
      const { prefix, count, kind = 'standard' } = command.enqueue;
      void enqueue(prefix, count, kind);
    }
    if (command.close === true) {
      void mailer.close().then(() => process.exit(0));
    }
  }
});
say({ ready: true });
