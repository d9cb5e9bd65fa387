/**
 * One process of a fleet, for test/fleet-permits.test.ts: run with `node --import tsx`, one JSON argument, and it
 * speaks in JSON lines on stdout.
 *
 * - `mode: 'send'`: a Mailer with fleetPermits on the shared key, aimed at the parent's SMTP sink. Says
 *   `{"ready":true}`, sends `count` messages once it reads `go` on stdin, says `{"sent":n}` and exits.
 * - `mode: 'hold'`: takes `count` permits and keeps them (never reports a start), saying `{"held":n}`, until it is
 *   killed.
 */

import { fleetPermits } from '../../src/fleet/index.js';
import { Mailer, type PermitsHost } from '../../src/index.js';

interface ChildOptions {
  mode: 'send' | 'hold';
  redisPort: number;
  key: string;
  perSecond: number;
  count: number;
  leaseMs?: number;
  smtpPort?: number;
  name?: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;

function say(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function permits() {
  return fleetPermits({
    connection: { host: '127.0.0.1', port: options.redisPort },
    key: options.key,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
  });
}

function goSignal(): Promise<void> {
  return new Promise((resolve) => {
    let input = '';
    process.stdin.on('data', (chunk: Buffer) => {
      input += chunk.toString('utf8');
      if (input.includes('go')) resolve();
    });
  });
}

async function send(): Promise<void> {
  const mailer = new Mailer({
    settings: {
      defaultSenderAddress: 'messenger@district.k12.us',
      smtpHost: '127.0.0.1',
      smtpPort: options.smtpPort ?? 25,
      throttlePerSecond: options.perSecond,
      minutesBetweenRetries: 0,
    },
    permits: permits(),
  });
  mailer.on('outboxError', (e) => say({ outboxError: { name: e.error.name, message: e.error.message } }));
  say({ ready: true });
  await goSignal();
  const name = options.name ?? String(process.pid);
  const sends = Array.from({ length: options.count }, (_, i) =>
    mailer.send({ to: `${name}-${i}@example.org`, subject: `${name} ${i}`, text: 'x' }),
  );
  const outcomes = await Promise.allSettled(sends);
  say({ sent: outcomes.filter((o) => o.status === 'fulfilled').length });
  await mailer.close();
  process.exit(0);
}

async function hold(): Promise<void> {
  const shared = permits();
  const host: PermitsHost = {
    now: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    wake: () => undefined,
  };
  shared.bind(host);
  shared.setRate(options.perSecond);
  const held = await shared.take(options.count);
  say({ held: held.length });
  setInterval(() => undefined, 60_000); // alive until killed
}

(options.mode === 'hold' ? hold() : send()).catch((error: unknown) => {
  say({ crashed: String(error) });
  process.exit(1);
});
