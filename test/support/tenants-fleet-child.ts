/**
 * One server of a fleet of groups, for test/tenants-fleet-lifecycle.test.ts: a MailerGroup on fleetTenants, every
 * district aimed at the parent's SMTP sink. Run with `node --import tsx`, one JSON argument; it reads commands as
 * JSON lines on stdin and speaks in JSON lines on stdout.
 *
 * Says `{"ready":true}`, then for each command:
 * - `{"enqueue":{"tenant":"a","count":30}}`: hands over messages of district `a` with ids (and subjects) `a-0`…,
 *   in order, and says `{"enqueued":"a","ok":n,"rejected":m}`.
 *
 * Every attempt, delivery, failure and outbox error is said as it happens: `{"sending":id,"tenant":…}`,
 * `{"sent":id,"tenant":…}`, `{"failed":id,"tenant":…,"unknownOutcome":true|false}`, `{"outboxError":…}`. It runs
 * until it is killed.
 */
import { fleetTenants } from '../../src/fleet/index.js';
import { MailerGroup } from '../../src/index.js';

interface ChildOptions {
  redisPort: number;
  queue: string;
  smtpPort: number;
  perSecond: number;
  lockMs: number;
  prefetch: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;

function say(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const group = new MailerGroup({
  settings: (tenant) => ({
    defaultSenderAddress: `messenger@${tenant}.k12.example`,
    smtpHost: '127.0.0.1',
    smtpPort: options.smtpPort,
    throttlePerSecond: options.perSecond,
    minutesBetweenRetries: 0,
    maxErrorsBeforeCancel: 10,
  }),
  mailer: () => ({ maxConcurrent: 3 }),
  fleet: fleetTenants({
    connection: { host: '127.0.0.1', port: options.redisPort },
    queue: options.queue,
    lockMs: options.lockMs,
    pollMs: 50,
    prefetch: options.prefetch,
    onWarning: () => undefined,
  }),
});
group.on('sending', (e) => say({ sending: e.id, tenant: e.tenant }));
group.on('sent', (e) => say({ sent: e.id, tenant: e.tenant }));
group.on('failed', (e) => say({ failed: e.id, tenant: e.tenant, unknownOutcome: e.unknownOutcome === true }));
group.on('outboxError', (e) => say({ outboxError: e.error.message, tenant: e.tenant }));

async function enqueue(tenant: string, count: number): Promise<void> {
  const handed = Array.from({ length: count }, (_, i) =>
    group.enqueue(
      tenant,
      { to: `${tenant}-${i}@example.org`, subject: `${tenant}-${i}`, text: `message ${tenant}-${i}` },
      { id: `${tenant}-${i}` },
    ),
  );
  const outcomes = await Promise.allSettled(handed);
  const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
  say({ enqueued: tenant, ok, rejected: count - ok });
}

let input = '';
process.stdin.on('data', (chunk: Buffer) => {
  input += chunk.toString('utf8');
  let end = input.indexOf('\n');
  while (end !== -1) {
    const command = JSON.parse(input.slice(0, end)) as { enqueue?: { tenant: string; count: number } };
    input = input.slice(end + 1);
    end = input.indexOf('\n');
    if (command.enqueue !== undefined) void enqueue(command.enqueue.tenant, command.enqueue.count);
  }
});
say({ ready: true });
