import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/mailer/dispatcher.js';
import { IsolatingEmitter } from '../src/mailer/isolating-emitter.js';
import { type DueEntry, DueQueue } from '../src/outbox/due-queue.js';
import { memoryOutbox } from '../src/outbox/memory.js';
import type { OutboxHost, OutboxMessage } from '../src/outbox/types.js';
import type { StartPermit, StartPermits } from '../src/permits/types.js';
import { ManualClock } from './support/manual-clock.js';

interface Entry extends DueEntry {
  name: string;
}

function hostOf(clock: ManualClock, wake: () => void = () => undefined): OutboxHost {
  return {
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (h) => clock.clearTimeout(h),
    wake,
    dropped: () => undefined,
    recovered: () => undefined,
    finishedElsewhere: () => undefined,
  };
}

function entry(name: string, queuedAt: number, kind: Entry['kind'] = 'standard'): Entry {
  return { name, kind, queuedAt, failures: 0 };
}

function message(id: string, kind: OutboxMessage['kind'] = 'standard', queuedAt = 0): OutboxMessage {
  return {
    id,
    kind,
    context: { kind, censusAddress: null, customSender: null },
    recipients: ['parent@example.org'],
    mail: { to: ['parent@example.org'], cc: [], bcc: [], subject: id, headers: {} },
    attachments: [],
    queuedAt,
    attempts: 0,
    failures: 0,
  };
}

describe('DueQueue', () => {
  it('takes emergencies first, then new messages and due retries in the order they became due', () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const queue = new DueQueue<Entry>();
    queue.bind(hostOf(clock));
    queue.setRule({ delayMs: 1000, maxFailures: 5 });
    queue.push(entry('s1', t0));
    const retried = { ...entry('r1', t0 - 5000), failures: 1, failedAt: t0 - 1500 }; // due at t0 - 500
    queue.push(retried);
    queue.push(entry('s2', t0 + 10));
    queue.push(entry('e1', t0 + 20, 'emergency'));
    const notDue = { ...entry('r2', t0 - 5000), failures: 1, failedAt: t0 }; // due at t0 + 1000
    queue.push(notDue);
    expect(queue.ready(t0 + 20)).toBe(4);
    expect(queue.notDue(t0 + 20)).toBe(1);
    expect(queue.take(10, t0 + 20).map((e) => e.name)).toEqual(['e1', 'r1', 's1', 's2']);
    expect(queue.take(10, t0 + 999)).toEqual([]);
    expect(queue.take(10, t0 + 1000).map((e) => e.name)).toEqual(['r2']);
  });

  it('keeps one timer, for the earliest retry not yet due, and wakes the host then', () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    let wakes = 0;
    const queue = new DueQueue<Entry>();
    queue.bind(hostOf(clock, () => (wakes += 1)));
    queue.setRule({ delayMs: 60_000, maxFailures: 5 });
    for (let i = 0; i < 100; i += 1) queue.push({ ...entry(`r${i}`, t0), failures: 1, failedAt: t0 + i });
    expect(clock.pending).toBe(1);
    clock.advance(59_999);
    expect(wakes).toBe(0);
    clock.advance(1);
    expect(wakes).toBe(1);
    expect(clock.pending).toBe(1); // the next one not yet due; the due one needs no timer
  });

  it('applies a shorter delay to waiting retries at once, without rescheduling each', () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const queue = new DueQueue<Entry>();
    queue.bind(hostOf(clock));
    queue.setRule({ delayMs: 600_000, maxFailures: 5 });
    queue.push({ ...entry('r', t0), failures: 1, failedAt: t0 });
    clock.advance(60_000);
    expect(queue.ready(clock.now())).toBe(0);
    queue.setRule({ delayMs: 30_000, maxFailures: 5 });
    expect(queue.ready(clock.now())).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('returns the waiting entries that reached a lowered maximum, and keeps the others', () => {
    const queue = new DueQueue<Entry>();
    queue.setRule({ delayMs: 1000, maxFailures: 5 });
    queue.push({ ...entry('two', 0), failures: 2, failedAt: 1 });
    queue.push({ ...entry('four', 0), failures: 4, failedAt: 2 });
    expect(queue.setRule({ delayMs: 1000, maxFailures: 3 }).map((e) => e.name)).toEqual(['four']);
    expect(queue.size).toBe(1);
  });

  it('puts a taken entry back at the front of its kind', () => {
    const queue = new DueQueue<Entry>();
    queue.push(entry('a', 0));
    queue.push(entry('b', 1));
    const [first] = queue.take(1, 10);
    queue.putBack(first as Entry);
    expect(queue.take(2, 10).map((e) => e.name)).toEqual(['a', 'b']);
  });
});

describe('memoryOutbox', () => {
  it('counts an attempt when a message is claimed, and restores it when the attempt never started', () => {
    const clock = new ManualClock();
    const outbox = memoryOutbox();
    outbox.bind(hostOf(clock));
    outbox.setRetryRule({ delayMs: 0, maxFailures: 3 });
    outbox.add(message('m1'));
    const [claimed] = outbox.claim(5, clock.now()) as OutboxMessage[];
    expect(claimed?.attempts).toBe(1);
    expect(outbox.counts(clock.now())).toEqual({ queued: 0, waitingRetry: 0, sending: 1 });
    outbox.settle(claimed as OutboxMessage, { state: 'unstarted' });
    expect(claimed?.attempts).toBe(0);
    expect(outbox.counts(clock.now())).toEqual({ queued: 1, waitingRetry: 0, sending: 0 });
  });

  it('refuses a second message with the id of one still pending', () => {
    const outbox = memoryOutbox();
    outbox.bind(hostOf(new ManualClock()));
    outbox.add(message('same'));
    expect(() => outbox.add(message('same'))).toThrow(/already pending/);
  });

  it('serves one Mailer only', () => {
    const outbox = memoryOutbox();
    outbox.bind(hostOf(new ManualClock()));
    expect(() => outbox.bind(hostOf(new ManualClock()))).toThrow(TypeError);
  });
});

/** Permits that grant whatever is asked, recording each request. */
class OpenPermits implements StartPermits {
  asked: number[] = [];
  bind(): void {}
  setRate(): void {}
  take(max: number): StartPermit[] {
    this.asked.push(max);
    return Array.from({ length: max }, () => ({ started: () => undefined, release: () => undefined }));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('Dispatcher', () => {
  it('asks for no more permits than messages are due and slots are free, and claims the most urgent', async () => {
    const clock = new ManualClock();
    const outbox = memoryOutbox();
    outbox.bind(hostOf(clock));
    const permits = new OpenPermits();
    const started: string[] = [];
    const dispatcher = new Dispatcher(outbox, permits, clock, 2, {
      start: (m) => {
        started.push(m.id);
        return new Promise(() => undefined); // holds its slot
      },
      failed: (error) => {
        throw error;
      },
    });
    for (const id of ['s1', 's2', 's3']) outbox.add(message(id));
    outbox.add(message('e1', 'emergency'));
    dispatcher.poke();
    expect(permits.asked).toEqual([2]);
    expect(started).toEqual(['e1', 's1']);
  });

  it('is safe against a start that pokes it again (a listener that sends from `sending`)', async () => {
    const clock = new ManualClock();
    const outbox = memoryOutbox();
    outbox.bind(hostOf(clock));
    const started: string[] = [];
    let extra = 0;
    const dispatcher: Dispatcher = new Dispatcher(outbox, new OpenPermits(), clock, 10, {
      start: async (m) => {
        started.push(m.id);
        if (extra < 3) {
          extra += 1;
          outbox.add(message(`x${extra}`));
          dispatcher.poke(); // re-entry: only asks for another pass
        }
        outbox.settle(m, { state: 'sent' });
      },
      failed: (error) => {
        throw error;
      },
    });
    outbox.add(message('m1'));
    dispatcher.poke();
    expect(started).toEqual(['m1', 'x1', 'x2', 'x3']);
  });

  it('puts off starts while held, then starts what became ready', () => {
    const clock = new ManualClock();
    const outbox = memoryOutbox();
    outbox.bind(hostOf(clock));
    const started: string[] = [];
    const dispatcher = new Dispatcher(outbox, new OpenPermits(), clock, 10, {
      start: (m) => {
        started.push(m.id);
        return Promise.resolve();
      },
      failed: () => undefined,
    });
    dispatcher.hold(() => {
      outbox.add(message('m1'));
      dispatcher.poke();
      expect(started).toEqual([]);
    });
    expect(started).toEqual(['m1']);
  });

  it('claims ahead from an outbox whose claims take time, yet never runs more than maxConcurrent at once', async () => {
    const clock = new ManualClock();
    const outbox = memoryOutbox();
    outbox.bind(hostOf(clock));
    const claim = outbox.claim.bind(outbox);
    outbox.claim = (max, now) => Promise.resolve(claim(max, now));
    const running: (() => void)[] = [];
    let most = 0;
    const dispatcher = new Dispatcher(outbox, new OpenPermits(), clock, 2, {
      start: (m) =>
        new Promise<void>((resolve) => {
          running.push(() => {
            outbox.settle(m, { state: 'sent' });
            resolve();
          });
          most = Math.max(most, running.length);
        }),
      failed: (error) => {
        throw error;
      },
    });
    for (let i = 0; i < 10; i += 1) outbox.add(message(`m${i}`));
    dispatcher.poke();
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
    expect(running).toHaveLength(2);
    expect(outbox.counts(clock.now()).sending).toBe(4); // two running, two claimed ahead
    (running.shift() as () => void)();
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
    expect(running).toHaveLength(2);
    expect(most).toBe(2);
    dispatcher.stop(); // what was claimed ahead goes back
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
    expect(outbox.counts(clock.now()).sending).toBe(2);
  });

  it('puts off starts across a pause until it is released, once', () => {
    const clock = new ManualClock();
    const outbox = memoryOutbox();
    outbox.bind(hostOf(clock));
    const started: string[] = [];
    const dispatcher = new Dispatcher(outbox, new OpenPermits(), clock, 10, {
      start: (m) => {
        started.push(m.id);
        return new Promise(() => undefined);
      },
      failed: () => undefined,
    });
    const release = dispatcher.pause();
    const inner = dispatcher.pause();
    outbox.add(message('m1'));
    dispatcher.poke();
    inner();
    inner(); // a second call does nothing
    expect(started).toEqual([]);
    release();
    expect(started).toEqual(['m1']);
  });

  it('gives back permits it could not use and tries a failed claim again a second later', async () => {
    const clock = new ManualClock();
    const outbox = memoryOutbox();
    outbox.bind(hostOf(clock));
    const released: number[] = [];
    const permits: StartPermits = {
      bind: () => undefined,
      setRate: () => undefined,
      take: (max) =>
        Array.from({ length: max }, (_, i) => ({
          started: () => undefined,
          release: () => released.push(i),
        })),
      close: () => Promise.resolve(),
    };
    let fail = true;
    const claim = outbox.claim.bind(outbox);
    outbox.claim = (max, now) => {
      if (fail) throw new Error('disk full');
      return claim(max, now);
    };
    const failures: unknown[] = [];
    const started: string[] = [];
    const dispatcher = new Dispatcher(outbox, permits, clock, 10, {
      start: (m) => {
        started.push(m.id);
        return Promise.resolve();
      },
      failed: (error) => failures.push(error),
    });
    outbox.add(message('m1'));
    dispatcher.poke();
    expect(failures).toHaveLength(1);
    expect(released).toEqual([0]);
    expect(started).toEqual([]);
    fail = false;
    dispatcher.poke(); // pausing: nothing until the pause ends
    expect(started).toEqual([]);
    clock.advance(1000);
    expect(started).toEqual(['m1']);
  });
});

describe('IsolatingEmitter', () => {
  class Emitter extends IsolatingEmitter<{ ping: [n: number] }> {
    failures: unknown[] = [];
    protected override listenerFailed(error: unknown): void {
      this.failures.push(error);
    }
  }

  it('runs every listener even when one throws or rejects, and reports each failure', async () => {
    const emitter = new Emitter();
    const seen: string[] = [];
    emitter.on('ping', () => {
      throw new Error('sync');
    });
    emitter.on('ping', async () => {
      throw new Error('async');
    });
    emitter.on('ping', (n) => seen.push(`third ${n}`));
    emitter.emit('ping', 1);
    await Promise.resolve();
    expect(seen).toEqual(['third 1']);
    expect(emitter.failures.map((e) => (e as Error).message)).toEqual(['sync', 'async']);
  });

  it('keeps eventemitter3 semantics: once, off by the original function, context, listeners()', () => {
    const emitter = new Emitter();
    const calls: unknown[] = [];
    const context = { name: 'ctx' };
    function listener(this: unknown, n: number): void {
      calls.push([this, n]);
    }
    emitter.once('ping', listener, context);
    expect(emitter.listeners('ping')).toEqual([listener]);
    emitter.emit('ping', 1);
    emitter.emit('ping', 2);
    expect(calls).toEqual([[context, 1]]);
    emitter.on('ping', listener);
    expect(emitter.listenerCount('ping')).toBe(1);
    emitter.off('ping', listener);
    expect(emitter.listenerCount('ping')).toBe(0);
    expect(emitter.emit('ping', 3)).toBe(false);
  });
});
