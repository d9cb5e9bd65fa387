// The hosted relay's budget counted where the relay counts it: a real SMTP server on 127.0.0.1 that records every
// MAIL FROM, with the district in its envelope sender. 200 districts, three on the hosted relay with backlogs of
// 2,000, one more sending an emergency while they wait; the others on their own relays.
import { afterEach, describe, expect, it } from 'vitest';
import type { EmailSettingsInput, Transport } from '../src/index.js';
import { MailerGroup } from '../src/index.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { maxInWindow } from './support/window-count.js';

const RELAY_PER_SECOND = 60;
const OWN_PER_SECOND = 50;

let group: MailerGroup | undefined;
let sink: SmtpSink | undefined;

afterEach(async () => {
  await group?.close();
  await sink?.close();
  group = undefined;
  sink = undefined;
});

const senderOf = (id: string) => `messenger@${id}.k12.example`;

/** A transport for the districts on their own relays: they are not what this test counts. */
const ownRelay: Transport = {
  async send(mail) {
    return { messageId: '', accepted: mail.to, rejected: [], response: '250 OK' };
  },
};

describe('MailerGroup on a real hosted relay', () => {
  it('holds the relay budget and each district’s throttle at the server, and starts an emergency first', async () => {
    const relay = await startSmtpSink();
    sink = relay;
    const settings = (id: string): EmailSettingsInput => ({
      defaultSenderAddress: senderOf(id),
      smtpHost: id.startsWith('own') ? `smtp.${id}.example` : '127.0.0.1',
      smtpPort: relay.port,
      throttlePerSecond: id === 'e' ? 5 : OWN_PER_SECOND,
      minutesBetweenRetries: 0,
    });
    group = new MailerGroup({
      settings,
      policy: { hostedSmtpHosts: ['127.0.0.1'] },
      hostedRelay: { perSecond: RELAY_PER_SECOND, connections: 6 },
      mailer: (id) => (id.startsWith('own') ? { transport: () => ownRelay } : { maxConcurrent: 3 }),
    });
    const g = group;
    const order: string[] = [];
    g.on('queued', (e) => {
      if (e.kind === 'emergency') order.push(`queued:${e.tenant}`);
    });
    g.on('sending', (e) => {
      if (!e.tenant.startsWith('own')) order.push(`sending:${e.tenant}`);
    });

    const handed: Promise<unknown>[] = [];
    for (let i = 0; i < 196; i += 1)
      handed.push(g.enqueue(`own${i}`, { to: 'x@example.org', subject: 'own', text: 'x' }));
    for (const id of ['a', 'b', 'c']) {
      for (let i = 0; i < 2000; i += 1) {
        handed.push(g.enqueue(id, { to: `p${i}@example.org`, subject: `${id} ${i}`, text: 'x' }));
      }
    }
    await Promise.all(handed);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const emergency = g.send(
      'e',
      { to: 'all@example.org', subject: 'Closed today', text: 'x' },
      { kind: 'emergency' },
    );
    await emergency;
    await new Promise((resolve) => setTimeout(resolve, 2000));

    // The emergency is the first attempt started on the relay once it was handed over.
    const queuedAt = order.indexOf('queued:e');
    expect(queuedAt).toBeGreaterThan(0);
    expect(order.slice(queuedAt + 1).find((entry) => entry.startsWith('sending:'))).toBe('sending:e');

    // At the server: the relay's budget in every sliding second, each district's throttle in its own.
    const froms = [...relay.mailFroms];
    expect(maxInWindow(froms.map((f) => f.at))).toBeLessThanOrEqual(RELAY_PER_SECOND);
    for (const id of ['a', 'b', 'c']) {
      const times = froms.filter((f) => f.from === senderOf(id)).map((f) => f.at);
      expect(maxInWindow(times)).toBeLessThanOrEqual(OWN_PER_SECOND);
    }
    expect(froms.filter((f) => f.from === senderOf('e'))).toHaveLength(1);
    // The three backlogged districts shared the relay about equally, and used it.
    const counts = ['a', 'b', 'c'].map((id) => froms.filter((f) => f.from === senderOf(id)).length);
    const mean = counts.reduce((sum, n) => sum + n, 0) / counts.length;
    for (const count of counts) expect(Math.abs(count - mean)).toBeLessThanOrEqual(mean * 0.1);
    expect(froms.length).toBeGreaterThanOrEqual(RELAY_PER_SECOND * 3);
    expect(relay.openConnections).toBeLessThanOrEqual(6); // one shared pool of the budget's connections
  });
});
