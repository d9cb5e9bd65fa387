// The hosted relay's budget across many districts, on a clock the test moves: 200 districts, four on the hosted
// relay with large backlogs, one of them held back by its own throttle, one weighted double; emergencies of two
// districts sent in the middle. Every start is recorded where the transport sees it.
import { afterEach, describe, expect, it } from 'vitest';
import type { EmailSettingsInput, OutgoingMail, SendProgress, Transport } from '../src/index.js';
import { MailerGroup } from '../src/index.js';
import { SENDER } from './support/harness.js';
import { ManualClock } from './support/manual-clock.js';
import { maxInWindow } from './support/window-count.js';

const HOSTED = 'smtp.vendor.example';
const RELAY_PER_SECOND = 30;
const STEP_MS = 5;

interface Start {
  tenant: string;
  kind: 'emergency' | 'standard';
  at: number;
  seq: number;
}

let group: MailerGroup | undefined;

afterEach(async () => {
  await group?.close();
  group = undefined;
});

/** Gives queued callbacks and promise chains their turn. */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += STEP_MS) {
    clock.advance(STEP_MS);
    await flush();
  }
}

/** A transport that accepts at once and records the start (the reply to MAIL FROM) on the test's clock. */
function recordingTransport(tenant: string, clock: ManualClock, log: Start[]): Transport {
  return {
    async send(mail: OutgoingMail, _signal?: AbortSignal, progress?: SendProgress) {
      const kind = mail.subject.startsWith('EMERGENCY') ? 'emergency' : 'standard';
      log.push({ tenant, kind, at: clock.now(), seq: log.length });
      progress?.started();
      return {
        messageId: mail.headers['Message-ID'] ?? '',
        accepted: mail.to,
        rejected: [],
        response: '250 OK',
      };
    },
  };
}

/** Starts of a district in every window of `windowMs` that opens at a whole second from `from` to `to`. */
function windowCounts(starts: Start[], tenant: string, from: number, to: number, windowMs: number): number[] {
  const times = starts.filter((s) => s.tenant === tenant).map((s) => s.at);
  const counts: number[] = [];
  for (let open = from; open + windowMs <= to; open += 1000) {
    counts.push(times.filter((t) => t >= open && t < open + windowMs).length);
  }
  return counts;
}

describe('MailerGroup: the hosted relay shared by districts', () => {
  it('divides the relay fairly among backlogged districts, weighted, within their own throttle, emergencies first', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const starts: Start[] = [];
    const settings = new Map<string, EmailSettingsInput>();
    const hosted = ['a', 'b', 'c', 'slow'];
    for (const id of hosted) {
      settings.set(id, {
        defaultSenderAddress: SENDER,
        smtpHost: HOSTED,
        throttlePerSecond: id === 'slow' ? 3 : 25,
        minutesBetweenRetries: 0,
      });
    }
    settings.set('e', { defaultSenderAddress: SENDER, smtpHost: HOSTED, throttlePerSecond: 10 });
    for (let i = 0; i < 195; i += 1) {
      settings.set(`own${i}`, {
        defaultSenderAddress: SENDER,
        smtpHost: `smtp.own${i}.example`,
        throttlePerSecond: 1,
      });
    }
    const shares: Record<string, number> = { c: 2 };
    let loads = 0;
    group = new MailerGroup({
      settings: (id) => {
        loads += 1;
        return settings.get(id);
      },
      policy: { hostedSmtpHosts: [HOSTED] },
      hostedRelay: { perSecond: RELAY_PER_SECOND, connections: 8 },
      share: (id) => shares[id] ?? 1,
      mailer: (id) => ({ transport: () => recordingTransport(id, clock, starts) }),
      idleMs: 5000,
      clock,
    });
    const g = group;
    const queuedAt = new Map<string, number>();
    g.on('queued', (e) => queuedAt.set(e.id, starts.length));

    // Backlogs of 2,000 on four hosted districts, and one message for each of the 195 on their own relays.
    const settled: Promise<unknown>[] = [];
    for (const id of hosted) {
      for (let i = 0; i < 2000; i += 1) {
        settled.push(g.enqueue(id, { to: `p${i}@example.org`, subject: `standard ${id} ${i}`, text: 'x' }));
      }
    }
    for (let i = 0; i < 195; i += 1) {
      settled.push(g.send(`own${i}`, { to: `q${i}@example.org`, subject: 'own relay', text: 'x' }));
    }
    await Promise.all(settled);
    await run(clock, 20_000);

    // Two emergencies, of a backlogged district and of an idle one, while every standard message waits.
    const emergencies = [
      g.send(
        'a',
        { to: 'all@example.org', subject: 'EMERGENCY a', text: 'x' },
        { kind: 'emergency', id: 'em-a' },
      ),
      g.send(
        'e',
        { to: 'all@example.org', subject: 'EMERGENCY e', text: 'x' },
        { kind: 'emergency', id: 'em-e' },
      ),
    ];
    await flush();
    const handedAt = Math.max(queuedAt.get('em-a') ?? -1, queuedAt.get('em-e') ?? -1);
    expect(handedAt).toBeGreaterThanOrEqual(0);
    await run(clock, 40_000);
    await Promise.all(emergencies);

    // Emergencies: the first two starts after both were handed over, before any waiting standard message.
    const after = starts.slice(handedAt);
    expect(
      after
        .slice(0, 2)
        .map((s) => `${s.tenant}:${s.kind}`)
        .sort(),
    ).toEqual(['a:emergency', 'e:emergency']);

    const hostedStarts = starts.filter((s) => s.tenant !== 'e' && !s.tenant.startsWith('own'));
    // The relay's budget holds in every sliding second, and each district's own throttle in its own.
    expect(
      maxInWindow(starts.filter((s) => !s.tenant.startsWith('own')).map((s) => s.at)),
    ).toBeLessThanOrEqual(RELAY_PER_SECOND);
    for (const id of hosted) {
      const own = settings.get(id)?.throttlePerSecond as number;
      expect(maxInWindow(starts.filter((s) => s.tenant === id).map((s) => s.at))).toBeLessThanOrEqual(own);
    }
    // Fair shares over every 10 s: `slow` takes its own 3 a second, the rest divide 27 by weight 1 : 1 : 2.
    const expected: Record<string, number> = { a: 67.5, b: 67.5, c: 135, slow: 30 };
    for (const id of hosted) {
      for (const count of windowCounts(hostedStarts, id, t0 + 2000, t0 + 60_000, 10_000)) {
        expect(Math.abs(count - (expected[id] as number))).toBeLessThanOrEqual(
          (expected[id] as number) * 0.1,
        );
      }
    }
    // The relay is used to its budget while districts have work: 30 a second over the minute.
    const inMinute = starts.filter((s) => !s.tenant.startsWith('own') && s.at < t0 + 60_000).length;
    expect(inMinute).toBeGreaterThanOrEqual(RELAY_PER_SECOND * 59);

    // Districts on their own relays: each sent its message; idle ones were closed, and loaded once each.
    expect(starts.filter((s) => s.tenant.startsWith('own'))).toHaveLength(195);
    expect(g.stats().open).toBeLessThanOrEqual(hosted.length + 1);
    expect(loads).toBe(200);
  });
});
