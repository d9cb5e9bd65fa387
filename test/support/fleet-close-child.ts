/**
 * A server whose Redis goes away, for test/fleet-outbox.test.ts: a Mailer on fleetOutbox that says
 * `{"ready":true}` once its outbox reached Redis, closes when it reads `close` on stdin, says `{"closed":ms}`, and
 * then must exit on its own (nothing left running), without `process.exit`.
 */
import { fleetOutbox } from '../../src/fleet/index.js';
import { Mailer } from '../../src/index.js';

const redisPort = Number(process.argv[2]);
const mailer = new Mailer({
  settings: { defaultSenderAddress: 'messenger@district.k12.us', smtpHost: '127.0.0.1', smtpPort: 9 },
  outbox: fleetOutbox({
    connection: { host: '127.0.0.1', port: redisPort },
    queue: 'close-test',
    onWarning: () => undefined,
  }),
});
mailer.on('outboxError', () => undefined);
await mailer
  .enqueue({ to: 'a@example.org', subject: 'x', text: 'x' }, { kind: 'standard' })
  .catch(() => undefined);
// a send() too: its outcome is followed through BullMQ's events, whose reader must stop with the rest
void mailer.send({ to: 'b@example.org', subject: 'y', text: 'y' }).catch(() => undefined);
await new Promise((resolve) => setTimeout(resolve, 200));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
process.stdin.once('data', () => {
  process.stdin.pause();
  process.stdin.unref();
  const started = performance.now();
  const alive = setTimeout(() => undefined, 60_000); // the process waits for close(), however long it takes
  void mailer.close().then(() => {
    clearTimeout(alive);
    process.stdout.write(`${JSON.stringify({ closed: Math.round(performance.now() - started) })}\n`);
  });
});
