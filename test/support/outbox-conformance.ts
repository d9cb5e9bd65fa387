/**
 * What every Outbox must do, as one suite run against each implementation (in memory, spool, shared): ordering,
 * counts, retries as data, the retry rule, claims and settlements, and for a durable one, what survives a reopen.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Outbox, OutboxEntry, OutboxHost, OutboxMessage, RecoveredMessage } from '../../src/index.js';
import { ManualClock } from './manual-clock.js';

/** One outbox under test, and how to open the same store again (a durable outbox only). */
export interface OutboxUnderTest {
  outbox: Outbox;
  /** Opens the same store again, as a new process would (after `outbox.close()`, or without it: a crash). */
  reopen?: () => Outbox;
  /**
   * A shared outbox (several servers, one store). Its store times retries by the wall clock, so the suite's clock
   * moves `Date` too; `load()` finds nothing (the messages stay where they are), and an attempt cut off is found
   * when the message is claimed again, once `cutOffFound(outbox)` resolves (the claim's lease ran out, and any
   * wait the outbox gives the server that stopped is over).
   */
  shared?: { cutOffFound(outbox: Outbox): Promise<void> };
  cleanup(): Promise<void>;
}

function message(id: string, kind: OutboxMessage['kind'] = 'standard', queuedAt = 0): OutboxMessage {
  return {
    id,
    kind,
    context: { kind, censusAddress: null, customSender: null },
    recipients: [`${id}@example.org`],
    mail: {
      to: [`${id}@example.org`],
      cc: [],
      bcc: [],
      subject: `Subject ${id}`,
      text: `Body of ${id}`,
      headers: { 'Message-ID': `<${id}@district.k12.us>` },
    },
    attachments: [],
    queuedAt,
    attempts: 0,
    failures: 0,
  };
}

/** Runs the conformance suite against outboxes made by `make`. */
export function describeOutbox(name: string, make: () => Promise<OutboxUnderTest>): void {
  describe(`Outbox conformance: ${name}`, () => {
    let current: OutboxUnderTest | undefined;
    const opened: Outbox[] = [];
    let clock: ManualClock;
    let wakes = 0;
    let recovered: RecoveredMessage[] = [];

    /** Moves the clock (and `Date`, for a shared outbox), running the timers that come due. */
    function advance(ms: number): void {
      if (current?.shared !== undefined) vi.setSystemTime(clock.now() + ms);
      clock.advance(ms);
    }

    async function setup(rule = { delayMs: 60_000, maxFailures: 3 }) {
      clock = new ManualClock();
      wakes = 0;
      recovered = [];
      current = await make();
      if (current.shared !== undefined) vi.useFakeTimers({ toFake: ['Date'], now: clock.now() });
      bindTo(current.outbox);
      current.outbox.setRetryRule(rule);
      return current;
    }

    function bindTo(outbox: Outbox): void {
      const host: OutboxHost = {
        now: () => clock.now(),
        setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
        clearTimeout: (h) => clock.clearTimeout(h),
        wake: () => {
          wakes += 1;
        },
        dropped: () => undefined,
        recovered: (found) => {
          recovered.push(...found);
        },
        finishedElsewhere: () => undefined,
      };
      outbox.bind(host);
      opened.push(outbox);
    }

    afterEach(async () => {
      vi.useRealTimers();
      for (const outbox of opened.splice(0)) await outbox.close().catch(() => undefined);
      await current?.cleanup();
      current = undefined;
    });

    it('claims emergencies first, then standard messages in the order they came, counting each attempt', async () => {
      const { outbox } = await setup();
      await outbox.add(message('s1'));
      await outbox.add(message('s2'));
      await outbox.add(message('e1', 'emergency'));
      expect(outbox.ready(clock.now())).toBe(3);
      const claimed = await outbox.claim(2, clock.now());
      expect(claimed.map((m) => m.id)).toEqual(['e1', 's1']);
      expect(claimed.map((m) => m.attempts)).toEqual([1, 1]);
      expect(claimed[0]?.mail.subject).toBe('Subject e1');
      expect(claimed[0]?.mail.headers['Message-ID']).toBe('<e1@district.k12.us>');
      expect(outbox.counts(clock.now())).toEqual({ queued: 1, waitingRetry: 0, sending: 2 });
    });

    it('refuses a second message with the id of one still pending, and serves one Mailer', async () => {
      const { outbox } = await setup();
      await outbox.add(message('same'));
      await expect(Promise.resolve().then(() => outbox.add(message('same')))).rejects.toMatchObject({
        code: 'INVALID_MESSAGE',
      });
      expect(() =>
        outbox.bind({
          now: () => 0,
          setTimeout: () => 0,
          clearTimeout: () => 0,
          wake: () => 0,
          dropped: () => 0,
          recovered: () => 0,
          finishedElsewhere: () => 0,
        }),
      ).toThrow(TypeError);
    });

    it('keeps a failed message waiting for the retry delay, then wakes the host when it is due', async () => {
      const { outbox } = await setup();
      await outbox.add(message('m'));
      const [claimed] = await outbox.claim(1, clock.now());
      const entry = claimed as OutboxMessage;
      entry.failures += 1;
      entry.failedAt = clock.now();
      entry.lastError = Object.assign(new Error('451 try later'), { responseCode: 451 });
      await outbox.settle(entry, { state: 'waiting' });
      expect(outbox.counts(clock.now())).toEqual({ queued: 0, waitingRetry: 1, sending: 0 });
      expect(await outbox.claim(5, clock.now())).toEqual([]);
      advance(59_999);
      expect(wakes).toBe(0);
      advance(1);
      expect(wakes).toBe(1);
      const [again] = await outbox.claim(5, clock.now());
      expect(again?.attempts).toBe(2);
      expect(again?.failures).toBe(1);
    });

    it('applies a new retry delay to waiting messages at once, and gives back those over a lowered maximum', async () => {
      const { outbox } = await setup({ delayMs: 600_000, maxFailures: 5 });
      for (const id of ['once', 'thrice']) await outbox.add(message(id));
      const claimed = await outbox.claim(2, clock.now());
      for (const entry of claimed) {
        entry.failures = entry.id === 'once' ? 1 : 3;
        entry.failedAt = clock.now();
        await outbox.settle(entry, { state: 'waiting' });
      }
      advance(60_000);
      expect(outbox.ready(clock.now())).toBe(0);
      const exhausted: OutboxEntry[] = outbox.setRetryRule({ delayMs: 30_000, maxFailures: 3 });
      expect(exhausted.map((e) => e.id)).toEqual(['thrice']);
      expect(outbox.ready(clock.now())).toBe(1);
      await outbox.settle(exhausted[0] as OutboxEntry, { state: 'cancelled' });
      expect(outbox.counts(clock.now())).toEqual({ queued: 1, waitingRetry: 0, sending: 0 });
    });

    it('puts an unstarted claim back at the front with its count restored, and forgets sent ones', async () => {
      const { outbox } = await setup();
      for (const id of ['a', 'b']) await outbox.add(message(id));
      const [a] = await outbox.claim(1, clock.now());
      await outbox.settle(a as OutboxMessage, { state: 'unstarted' });
      const both = await outbox.claim(2, clock.now());
      expect(both.map((m) => [m.id, m.attempts])).toEqual([
        ['a', 1],
        ['b', 1],
      ]);
      for (const entry of both) await outbox.settle(entry, { state: 'sent' });
      expect(outbox.counts(clock.now())).toEqual({ queued: 0, waitingRetry: 0, sending: 0 });
    });

    it('keeps, after a reopen, every message with its counts; an attempt cut off counts as failed', async () => {
      const under = await setup();
      if (under.reopen === undefined) {
        expect(under.outbox.durable).toBe(false);
        expect((await under.outbox.load()).messages).toEqual([]);
        return;
      }
      const { outbox } = under;
      expect(outbox.durable).toBe(true);
      for (const id of ['waits', 'cut', 'fresh', 'sent']) await outbox.add(message(id));
      const claimed = await outbox.claim(2, clock.now());
      const waits = claimed.find((m) => m.id === 'waits') as OutboxMessage;
      waits.failures += 1;
      waits.failedAt = clock.now();
      waits.lastError = new Error('421 busy');
      await outbox.settle(waits, { state: 'waiting' });
      // 'cut' stays claimed: the process stops while its attempt is under way
      const [fresh, sent] = await outbox.claim(2, clock.now());
      await outbox.settle(sent as OutboxMessage, { state: 'sent' });
      await outbox.settle(fresh as OutboxMessage, { state: 'unstarted' });
      await outbox.close();

      const again = under.reopen();
      bindTo(again);
      again.setRetryRule({ delayMs: 60_000, maxFailures: 3 });
      if (under.shared !== undefined) {
        expect(await again.load()).toEqual({ messages: [], quarantined: [] });
        expect((await again.claim(5, clock.now())).map((m) => m.id)).toEqual(['fresh']);
        await under.shared.cutOffFound(again);
        expect(await again.claim(5, clock.now())).toEqual([]); // 'cut' is found, counted and waits its retry
        expect(
          recovered.map((r) => [r.message.id, r.message.attempts, r.message.failures, r.exhausted]),
        ).toEqual([['cut', 1, 1, false]]);
        advance(60_000);
        const retried = await again.claim(5, clock.now());
        expect(retried.map((m) => [m.id, m.attempts, m.failures]).sort()).toEqual([
          ['cut', 2, 1],
          ['waits', 2, 1],
        ]);
        expect(retried.find((m) => m.id === 'waits')?.lastError?.message).toBe('421 busy');
        expect(retried.find((m) => m.id === 'cut')?.mail.headers['Message-ID']).toBe('<cut@district.k12.us>');
        return;
      }
      const loaded = await again.load();
      const byId = new Map(loaded.messages.map((m) => [m.message.id, m]));
      expect([...byId.keys()].sort()).toEqual(['cut', 'fresh', 'waits']);
      expect(byId.get('waits')).toMatchObject({ recovered: false, message: { attempts: 1, failures: 1 } });
      expect(byId.get('waits')?.message.lastError?.message).toBe('421 busy');
      expect(byId.get('cut')).toMatchObject({
        recovered: true,
        exhausted: false,
        message: { attempts: 1, failures: 1 },
      });
      expect(byId.get('fresh')).toMatchObject({ recovered: false, message: { attempts: 0, failures: 0 } });
      expect(loaded.quarantined).toEqual([]);
      const ready = await again.claim(5, clock.now());
      expect(ready.map((m) => m.id)).toEqual(['fresh']);
      expect(ready[0]?.mail.text).toBe('Body of fresh');
      advance(60_000);
      const retried = await again.claim(5, clock.now());
      expect(retried.map((m) => m.id).sort()).toEqual(['cut', 'waits']);
      expect(retried.find((m) => m.id === 'cut')?.mail.headers['Message-ID']).toBe('<cut@district.k12.us>');
      expect((await again.load()).messages).toEqual([]); // loads once
    });
  });
}
