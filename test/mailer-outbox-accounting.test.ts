/**
 * The Mailer's account of messages an outbox holds out of its sight: a delivery a durable outbox is still
 * recording (`sent` waits for the record), messages claimed ahead that wait for a free connection (counted as
 * queued, never idle), and messages a durable outbox lost from disk (cancelled, their `send()` rejected).
 */
import { describe, expect, it } from 'vitest';
import {
  type DeliveryReport,
  type LoadedMessages,
  memoryOutbox,
  type Outbox,
  type OutboxCounts,
  type OutboxEntry,
  type OutboxHost,
  type OutboxMessage,
  type RetryRule,
  type Settlement,
  type StartPermits,
} from '../src/index.js';
import { controlled, ok, until } from './support/controlled-transport.js';

/** A promise the test settles. */
interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets promise callbacks and a few timer turns run. */
const settleDown = () => new Promise((resolve) => setTimeout(resolve, 10));

/**
 * The in-memory outbox behind the answers of a durable one: every knob off, it answers at once (as the in-memory
 * outbox does). `recordSent` makes the removal of a delivered message a promise the test settles; `claimDelayMs`
 * makes claims answer later; `countsClaimed: false` leaves claimed messages out of `counts()` (as a shared outbox
 * that counts only what waits); `lose` names messages whose record is gone at claim time.
 */
class FakeDurableOutbox implements Outbox {
  readonly durable = true;
  readonly inner = memoryOutbox();
  host: OutboxHost | undefined;
  recordSent = false;
  /** The removal of each delivered message, by id, while `recordSent` is set. */
  readonly removals = new Map<string, Deferred>();
  claimDelayMs: number | undefined;
  claimsAnswered = 0;
  countsClaimed = true;
  /** Stores answer later (`add` resolves after this many ms), while the message is claimable at once. */
  addDelayMs: number | undefined;
  readonly lose = new Set<string>();

  bind(host: OutboxHost): void {
    this.host = host;
    this.inner.bind(host);
  }
  setRetryRule(rule: RetryRule): OutboxEntry[] {
    return this.inner.setRetryRule(rule);
  }
  add(message: OutboxMessage): void | Promise<void> {
    this.inner.add(message);
    const delay = this.addDelayMs;
    if (delay === undefined) return;
    return new Promise((resolve) => setTimeout(resolve, delay));
  }
  ready(now: number): number {
    return this.inner.ready(now);
  }
  claim(max: number, now: number): OutboxMessage[] | Promise<OutboxMessage[]> {
    const taken = this.inner.claim(max, now) as OutboxMessage[];
    const answer = (): OutboxMessage[] => {
      const lost = taken.filter((m) => this.lose.has(m.id));
      for (const message of lost) this.inner.settle(message, { state: 'cancelled' }); // gone: let go of it
      if (lost.length > 0) {
        this.host?.dropped(lost, new Error(`records of ${lost.map((m) => m.id).join(', ')} were removed`));
      }
      this.claimsAnswered += 1;
      return taken.filter((m) => !this.lose.has(m.id));
    };
    const delay = this.claimDelayMs;
    if (delay === undefined) return answer();
    return new Promise((resolve) => setTimeout(() => resolve(answer()), delay));
  }
  settle(entry: OutboxEntry, outcome: Settlement): void | Promise<void> {
    this.inner.settle(entry, outcome);
    if (!this.recordSent || outcome.state !== 'sent') return;
    const removal = deferred();
    this.removals.set(entry.id, removal);
    return removal.promise;
  }
  counts(now: number): OutboxCounts {
    const counts = this.inner.counts(now);
    return this.countsClaimed ? counts : { ...counts, sending: 0 };
  }
  load(): Promise<LoadedMessages> {
    return Promise.resolve({ messages: [], quarantined: [] });
  }
  drain(): OutboxMessage[] {
    return [];
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Follows a `send()` promise without awaiting it. */
function track(promise: Promise<DeliveryReport>) {
  const state: { outcome: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { outcome: 'pending' };
  promise.then(
    () => {
      state.outcome = 'resolved';
    },
    (error: unknown) => {
      state.outcome = 'rejected';
      state.error = error;
    },
  );
  return state;
}

/** Permits granted at once, as many as asked: one claim takes every message ready. */
const openPermits = (): StartPermits => ({
  bind: () => undefined,
  setRate: () => undefined,
  take: (max) => Array.from({ length: max }, () => ({ started: () => undefined, release: () => undefined })),
  close: () => Promise.resolve(),
});

const mail = (subject: string) => ({ to: 'parent@example.org', subject, text: 'x' });

describe('Mailer with a durable outbox still recording a delivery', () => {
  it('emits sent and resolves send() only once the outbox recorded it, without holding the connection', async () => {
    const outbox = new FakeDurableOutbox();
    outbox.recordSent = true;
    const { mailer, transports } = controlled({ outbox, maxConcurrent: 1 });
    const events: string[] = [];
    mailer.on('sent', (e) => events.push(`sent ${e.id}`));
    mailer.on('outboxError', (e) => events.push(`outboxError ${e.id}`));
    mailer.on('idle', () => events.push('idle'));
    const one = track(mailer.send(mail('one'), { id: 'one' }));
    const two = track(mailer.send(mail('two'), { id: 'two' }));
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const calls = transports[0]?.calls ?? [];
    calls[0]?.resolve(ok(calls[0].mail));
    await until(() => calls.length === 2); // the slot is free while the removal of 'one' is recorded
    await settleDown();
    expect(events).toEqual([]);
    expect(one.outcome).toBe('pending');
    expect(mailer.stats()).toMatchObject({ queued: 0, sending: 2, sent: 0 });

    calls[1]?.resolve(ok(calls[1].mail));
    await until(() => outbox.removals.size === 2);
    await settleDown();
    expect(events).toEqual([]); // no idle while a `sent` is still to come
    outbox.removals.get('one')?.resolve();
    await settleDown();
    expect(events).toEqual(['sent one']);
    expect(one.outcome).toBe('resolved');
    expect(two.outcome).toBe('pending');

    // a removal that fails is reported, and the message, delivered, is still reported sent
    outbox.removals.get('two')?.reject(new Error('disk full'));
    await settleDown();
    expect(events).toEqual(['sent one', 'outboxError two', 'sent two', 'idle']);
    expect(two.outcome).toBe('resolved');
    expect(mailer.stats()).toMatchObject({ queued: 0, sending: 0, sent: 2 });
    await mailer.close();
  });

  it('waits in close() for a sent still to come, before telling any send() its message was kept', async () => {
    const outbox = new FakeDurableOutbox();
    outbox.recordSent = true;
    const { mailer, transports } = controlled({ outbox });
    const events: string[] = [];
    mailer.on('sent', (e) => events.push(`sent ${e.id}`));
    const one = track(mailer.send(mail('one'), { id: 'one' }));
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const call = transports[0]?.calls[0];
    call?.resolve(ok(call.mail));
    await until(() => outbox.removals.has('one'));
    let closed = false;
    const closing = mailer.close().then(() => {
      closed = true;
    });
    await settleDown();
    expect(closed).toBe(false);
    expect(events).toEqual([]);
    outbox.removals.get('one')?.resolve();
    await closing;
    expect(events).toEqual(['sent one']);
    expect(one.outcome).toBe('resolved');
  });
});

describe('Mailer with messages claimed ahead', () => {
  it('counts a message claimed ahead and not started as queued, not sending', async () => {
    const outbox = new FakeDurableOutbox();
    outbox.claimDelayMs = 2;
    const { mailer, transports } = controlled({ outbox, maxConcurrent: 1 });
    const one = mailer.send(mail('one'), { id: 'one' });
    const two = mailer.send(mail('two'), { id: 'two' });
    await until(() => (transports[0]?.calls.length ?? 0) === 1 && outbox.claimsAnswered === 2);
    expect(outbox.inner.counts(Date.now())).toEqual({ queued: 0, waitingRetry: 0, sending: 2 });
    expect(mailer.stats()).toEqual({ queued: 1, sending: 1, waitingRetry: 0, sent: 0, cancelled: 0 });
    const calls = transports[0]?.calls ?? [];
    calls[0]?.resolve(ok(calls[0].mail));
    await until(() => calls.length === 2);
    expect(mailer.stats()).toMatchObject({ queued: 0, sending: 1, sent: 1 });
    calls[1]?.resolve(ok(calls[1].mail));
    await Promise.all([one, two]);
    await mailer.close();
  });

  it('does not go idle while a message claimed ahead waits, even when the outbox does not count it', async () => {
    const outbox = new FakeDurableOutbox();
    outbox.claimDelayMs = 2;
    outbox.countsClaimed = false;
    const { mailer, transports } = controlled({ outbox, maxConcurrent: 1 });
    const events: string[] = [];
    mailer.on('sent', (e) => events.push(`sent ${e.id}`));
    mailer.on('idle', () => events.push('idle'));
    const one = mailer.send(mail('one'), { id: 'one' });
    const two = mailer.send(mail('two'), { id: 'two' });
    await until(() => (transports[0]?.calls.length ?? 0) === 1 && outbox.claimsAnswered === 2);
    expect(mailer.stats()).toMatchObject({ queued: 1, sending: 1 });
    const calls = transports[0]?.calls ?? [];
    calls[0]?.resolve(ok(calls[0].mail));
    await until(() => calls.length === 2);
    expect(events).toEqual(['sent one']);
    calls[1]?.resolve(ok(calls[1].mail));
    await Promise.all([one, two]);
    expect(events).toEqual(['sent one', 'sent two', 'idle']);
    await mailer.close();
  });
});

describe('Mailer with a durable outbox that lost messages', () => {
  it('cancels each message the outbox drops at claim time and rejects its send() with OutboxUnavailableError', async () => {
    const outbox = new FakeDurableOutbox();
    outbox.claimDelayMs = 2;
    outbox.lose.add('lost');
    const { mailer, transports } = controlled({ outbox });
    const events: string[] = [];
    mailer.on('cancelled', (e) => events.push(`cancelled ${e.id} ${e.reason} ${e.error.message}`));
    mailer.on('sent', (e) => events.push(`sent ${e.id}`));
    mailer.on('idle', () => events.push('idle'));
    const lost = mailer.send(mail('lost'), { id: 'lost' });
    const kept = mailer.send(mail('kept'), { id: 'kept' });
    await expect(lost).rejects.toMatchObject({
      name: 'OutboxUnavailableError',
      code: 'OUTBOX_UNAVAILABLE',
      message: expect.stringMatching(
        /^Message lost will not be sent: .*removed or changed on disk.*send the message again/,
      ),
      cause: { message: 'records of lost were removed' },
    });
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const call = transports[0]?.calls[0];
    call?.resolve(ok(call.mail));
    await expect(kept).resolves.toMatchObject({ id: 'kept' });
    expect(events).toEqual(['cancelled lost outbox records of lost were removed', 'sent kept', 'idle']);
    expect(mailer.stats()).toEqual({ queued: 0, sending: 0, waitingRetry: 0, sent: 1, cancelled: 1 });
    await mailer.close();
  });

  it('announces a message lost before its store was confirmed, then cancels it, and goes idle', async () => {
    const outbox = new FakeDurableOutbox();
    outbox.addDelayMs = 20; // claimable at once, announced only once stored
    outbox.lose.add('lost');
    const { mailer, transports } = controlled({ outbox, permits: openPermits() });
    const events: string[] = [];
    mailer.on('queued', (e) => events.push(`queued ${e.id}`));
    mailer.on('sending', (e) => events.push(`sending ${e.id}`));
    mailer.on('sent', (e) => events.push(`sent ${e.id}`));
    mailer.on('cancelled', (e) => events.push(`cancelled ${e.id} ${e.reason}`));
    mailer.on('idle', () => events.push('idle'));
    // the announcement of 'first' starts a claim that takes 'lost' too, before the store of 'lost' is confirmed
    const first = mailer.send(mail('first'), { id: 'first' });
    const lost = mailer.send(mail('lost'), { id: 'lost' });
    await expect(lost).rejects.toMatchObject({ code: 'OUTBOX_UNAVAILABLE' });
    expect(events).toEqual(['queued first', 'queued lost', 'cancelled lost outbox', 'sending first']);
    const call = transports[0]?.calls[0];
    call?.resolve(ok(call.mail));
    await first;
    expect(events.slice(4)).toEqual(['sent first', 'idle']);
    expect(mailer.stats()).toMatchObject({ queued: 0, sending: 0, sent: 1, cancelled: 1 });
    await mailer.close();
  });
});
