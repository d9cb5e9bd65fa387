/**
 * The Mailer against an outbox that answers later and says it is durable, as a spool or a shared outbox does:
 * event order, enqueue(), close() keeping messages, resume() announcing what was loaded.
 */
import { describe, expect, it } from 'vitest';
import {
  type LoadedMessages,
  memoryOutbox,
  type Outbox,
  type OutboxEntry,
  type OutboxHost,
  type OutboxMessage,
  type RetryRule,
  type Settlement,
  type StartPermits,
} from '../src/index.js';
import { controlled, ok, until } from './support/controlled-transport.js';

const later = <T>(value: () => T): Promise<T> =>
  new Promise((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(value());
      } catch (error) {
        reject(error);
      }
    }, 2),
  );

/** The in-memory outbox behind asynchronous answers, claiming to be durable; `loaded` is what load() finds. */
class SlowDurableOutbox implements Outbox {
  readonly durable = true;
  readonly inner = memoryOutbox();
  loaded: LoadedMessages = { messages: [], quarantined: [] };
  settled: [string, Settlement['state']][] = [];
  bind(host: OutboxHost): void {
    this.inner.bind(host);
  }
  setRetryRule(rule: RetryRule): OutboxEntry[] {
    return this.inner.setRetryRule(rule);
  }
  add(message: OutboxMessage): Promise<void> {
    this.inner.add(message); // claimable at once: the Mailer must still announce it before its attempt
    return later(() => undefined);
  }
  ready(now: number): number {
    return this.inner.ready(now);
  }
  /** Answers at once when `syncClaims` is set: a message stored a moment ago may be claimed before it is announced. */
  syncClaims = false;
  claim(max: number, now: number): OutboxMessage[] | Promise<OutboxMessage[]> {
    const claimed = this.inner.claim(max, now) as OutboxMessage[];
    return this.syncClaims ? claimed : later(() => claimed);
  }
  settle(entry: OutboxEntry, outcome: Settlement): Promise<void> {
    this.settled.push([entry.id, outcome.state]);
    this.inner.settle(entry, outcome);
    return later(() => undefined);
  }
  counts(now: number) {
    return this.inner.counts(now);
  }
  load(): Promise<LoadedMessages> {
    return later(() => this.loaded);
  }
  drain(): OutboxMessage[] {
    return [];
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('Mailer with an outbox that answers later', () => {
  it('emits queued before sending for every message, even when a batch of stores completes at once', async () => {
    const outbox = new SlowDurableOutbox();
    outbox.syncClaims = true;
    // permits granted at once, so that the first announcement starts attempts while later stores complete
    const permits: StartPermits = {
      bind: () => undefined,
      setRate: () => undefined,
      take: (max) =>
        Array.from({ length: max }, () => ({ started: () => undefined, release: () => undefined })),
      close: () => Promise.resolve(),
    };
    const { mailer, transports } = controlled({ outbox, permits });
    const events: string[] = [];
    mailer.on('queued', (e) => events.push(`queued ${e.id}`));
    mailer.on('sending', (e) => events.push(`sending ${e.id}`));
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        mailer.enqueue({ to: 'parent@example.org', subject: `m${i}`, text: 'x' }, { id: `m${i}` }),
      ),
    );
    expect(ids.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    await until(() => events.filter((e) => e.startsWith('sending')).length === 5);
    for (let i = 0; i < 20; i += 1) {
      const sending = events.indexOf(`sending m${i}`);
      if (sending >= 0) expect(events.indexOf(`queued m${i}`)).toBeLessThan(sending);
    }
    for (const call of transports[0]?.calls ?? []) call.resolve(ok(call.mail));
    await mailer.close();
  });

  it('keeps waiting messages when it closes: no cancelled event, send() rejects with MailerClosedError', async () => {
    const outbox = new SlowDurableOutbox();
    const { mailer, transports } = controlled({ outbox, maxConcurrent: 1 });
    const cancelled: string[] = [];
    mailer.on('cancelled', (e) => cancelled.push(e.id));
    const first = mailer.send({ to: 'parent@example.org', subject: 'one', text: 'x' }, { id: 'one' });
    const second = mailer.send({ to: 'parent@example.org', subject: 'two', text: 'x' }, { id: 'two' });
    await until(() => (transports[0]?.calls.length ?? 0) >= 1);
    const closing = mailer.close();
    const call = transports[0]?.calls[0];
    call?.reject(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })); // retryable
    await closing;
    await expect(first).rejects.toMatchObject({ code: 'MAILER_CLOSED', message: /kept in the outbox/ });
    await expect(second).rejects.toMatchObject({ code: 'MAILER_CLOSED', message: /kept in the outbox/ });
    expect(cancelled).toEqual([]);
    expect(outbox.settled).toContainEqual(['one', 'waiting']);
  });

  it('announces resumed messages, reports a cut-off attempt as unknownOutcome and cancels exhausted ones', async () => {
    const outbox = new SlowDurableOutbox();
    const { mailer, transports } = controlled({ outbox });
    const entry = (id: string, attempts: number, failures: number): OutboxEntry => ({
      id,
      kind: 'standard',
      context: { kind: 'standard', censusAddress: null, customSender: null },
      recipients: ['parent@example.org'],
      queuedAt: 0,
      attempts,
      failures,
      failedAt: 1,
      lastError: Object.assign(new Error('cut off'), { code: 'EUNKNOWN_OUTCOME' }),
    });
    outbox.loaded = {
      messages: [
        { message: entry('cut', 1, 1), recovered: true, exhausted: false },
        { message: entry('spent', 10, 10), recovered: true, exhausted: true },
      ],
      quarantined: [{ file: 'quarantine/x', reason: 'checksum does not match' }],
    };
    const events: string[] = [];
    mailer.on('queued', (e) => events.push(`queued ${e.id} ${e.resumed}`));
    mailer.on('failed', (e) => events.push(`failed ${e.id} ${e.unknownOutcome} ${e.willRetry}`));
    mailer.on('cancelled', (e) => events.push(`cancelled ${e.id} ${e.reason} ${e.attempts}`));
    const report = await mailer.resume();
    expect(report).toEqual({
      resumed: 2,
      recovered: 2,
      quarantined: [{ file: 'quarantine/x', reason: 'checksum does not match' }],
    });
    expect(events).toEqual([
      'queued cut true',
      'failed cut true true',
      'queued spent true',
      'failed spent true false',
      'cancelled spent max-errors 10',
    ]);
    expect(outbox.settled).toContainEqual(['spent', 'cancelled']);
    expect(transports[0]?.calls ?? []).toEqual([]); // 'cut' was only an entry: nothing to claim in this double
    await mailer.close();
  });
});
