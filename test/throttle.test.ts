import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../src/index.js';
import { SlidingWindow } from '../src/mailer/window.js';
import { type Harness, startHarness } from './support/harness.js';
import { Throttle, WINDOW_MS } from './support/throttle.js';
import { maxInWindow } from './support/window-count.js';

describe('SlidingWindow', () => {
  it('allows limit starts, then waits until the oldest leaves the window', () => {
    const window = new SlidingWindow(3, 1000);
    for (const t of [0, 10, 20]) {
      expect(window.waitMs(t)).toBe(0);
      window.record(t);
    }
    expect(window.waitMs(20)).toBe(980);
    expect(window.waitMs(999)).toBe(1);
    expect(window.waitMs(1000)).toBe(0);
    window.record(1000);
    expect(window.waitMs(1000)).toBe(10);
  });

  it('pauses for at most one window when the clock steps back, whatever the size of the step', () => {
    const window = new SlidingWindow(2, 1000);
    window.record(3_600_000);
    window.record(3_600_500);
    // the wall clock is corrected by an hour: the recorded starts count as happening at the new now
    expect(window.waitMs(100)).toBe(1000);
    expect(window.waitMs(1100)).toBe(0);
    expect(window.available(1100)).toBe(2);
  });

  it('holds a place for a reserved start until it is committed or released', () => {
    const window = new SlidingWindow(2, 1000);
    window.reserve();
    window.reserve();
    expect(window.available(0)).toBe(0);
    expect(window.waitMs(5000)).toBeUndefined(); // time alone frees nothing while the starts are pending
    window.commit(5020); // the start happened late (a new connection's handshake)
    expect(window.waitMs(5030)).toBe(990); // the committed one frees its place a window after it happened
    window.release(); // the other never happened
    expect(window.available(5030)).toBe(1);
    window.reserve();
    window.commit(5040);
    expect(window.waitMs(5040)).toBe(980); // counted from when it happened, not when it was granted
  });

  it('keeps starts committed out of order sorted', () => {
    const window = new SlidingWindow(3, 1000);
    window.reserve();
    window.reserve();
    window.commit(50);
    window.commit(10); // the first granted start reached the server later
    window.record(60);
    expect(window.waitMsFor(60, 1)).toBe(950);
    expect(window.waitMsFor(60, 2)).toBe(990);
  });

  it('says when several starts are allowed at once', () => {
    const window = new SlidingWindow(4, 1000);
    for (const t of [0, 100, 200, 300]) window.record(t);
    expect(window.waitMsFor(300, 1)).toBe(700);
    expect(window.waitMsFor(300, 3)).toBe(900);
    expect(window.waitMsFor(300, 9)).toBe(1000);
    expect(window.waitMsFor(1250, 3)).toBe(0);
    const roomy = new SlidingWindow(4, 1000);
    roomy.record(0);
    expect(roomy.waitMsFor(0, 3)).toBe(0);
    expect(roomy.waitMsFor(0, 4)).toBe(1000);
  });

  it('keeps the recent starts when its limit changes', () => {
    const window = new SlidingWindow(4, 1000);
    for (const t of [0, 100, 200, 300]) window.record(t);
    window.limit = 2;
    expect(window.waitMs(300)).toBe(900); // 200 and 300 still count
    window.limit = 6;
    expect(window.waitMs(300)).toBe(0);
  });
});

describe('Throttle (fake timers)', () => {
  const clock: Clock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function run(perSecond: number, count: number, maxConcurrent = 1000, workMs = 3) {
    const starts: number[] = [];
    const throttle = new Throttle<number>({ perSecond, maxConcurrent }, clock, async () => {
      starts.push(Date.now());
      await new Promise((resolve) => setTimeout(resolve, workMs));
    });
    for (let i = 0; i < count; i += 1) throttle.push(i, false);
    const t0 = Date.now();
    while (starts.length < count) await vi.advanceTimersByTimeAsync(50);
    await vi.advanceTimersByTimeAsync(workMs + 1);
    await throttle.stop();
    return { starts, elapsed: (starts.at(-1) as number) - t0 };
  }

  it.each([1, 2, 10, 100, 250, 500, 999])(
    'never starts more than %i in any sliding second, and keeps the rate',
    async (r) => {
      const count = Math.max(3 * r, 4);
      const { starts, elapsed } = await run(r, count);
      expect(maxInWindow(starts)).toBeLessThanOrEqual(r);
      expect(maxInWindow(starts, WINDOW_MS)).toBeLessThanOrEqual(r);
      // count - 1 intervals at the full rate, allowing the 0.2 % guard and one tick of rounding
      const achieved = ((count - 1) * 1000) / elapsed;
      expect(achieved).toBeGreaterThanOrEqual(0.98 * r);
    },
  );

  it('counts a start from when it reaches the transport, even after a pause between the check and the start', async () => {
    const starts: number[] = [];
    let n = 0;
    const throttle = new Throttle<number>({ perSecond: 5, maxConcurrent: 100 }, clock, async () => {
      n += 1;
      if (n % 5 === 1) vi.setSystemTime(Date.now() + 40); // a garbage-collection pause before the transport call
      starts.push(Date.now());
    });
    for (let i = 0; i < 20; i += 1) throttle.push(i, false);
    while (starts.length < 20) await vi.advanceTimersByTimeAsync(50);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(5);
    await throttle.stop();
  });

  it('counts a start from when it reports it happened, however late (a new connection)', async () => {
    const reported: number[] = [];
    let n = 0;
    const throttle = new Throttle<number>(
      { perSecond: 10, maxConcurrent: 5 },
      clock,
      async (_item, permit) => {
        n += 1;
        // now and then an attempt opens a new connection first: MAIL FROM goes out 26 ms after the hand-over
        await new Promise((resolve) => setTimeout(resolve, n % 7 === 1 ? 26 : 0.5));
        reported.push(Date.now());
        permit.started();
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
    );
    for (let i = 0; i < 60; i += 1) throttle.push(i, false);
    while (reported.length < 60) await vi.advanceTimersByTimeAsync(50);
    expect(maxInWindow(reported)).toBeLessThanOrEqual(10);
    expect(maxInWindow(reported, WINDOW_MS)).toBeLessThanOrEqual(10);
    await throttle.stop();
  });

  it('frees the place of a start that did not happen', async () => {
    const starts: number[] = [];
    let n = 0;
    const throttle = new Throttle<number>(
      { perSecond: 2, maxConcurrent: 5 },
      clock,
      async (_item, permit) => {
        n += 1;
        if (n <= 3) {
          permit.release(); // e.g. the message was cancelled before its attempt
          return;
        }
        starts.push(Date.now());
        permit.started();
      },
    );
    for (let i = 0; i < 5; i += 1) throttle.push(i, false);
    await vi.advanceTimersByTimeAsync(900);
    expect(starts).toHaveLength(2); // the three released places went to the next two at once
    await throttle.stop();
  });

  it('is safe against a start that queues another item from inside the start', async () => {
    const starts: number[] = [];
    let extra = 0;
    // idle first, so that tokens have piled up
    const throttle = new Throttle<number>(
      { perSecond: 2, maxConcurrent: 10 },
      clock,
      async (_item, permit) => {
        starts.push(Date.now());
        permit.started();
        if (extra < 6) {
          extra += 1;
          throttle.push(100 + extra, false); // a listener of `sending` that sends again
        }
      },
    );
    throttle.push(0, false);
    await vi.advanceTimersByTimeAsync(5000);
    for (let i = 1; i < 4; i += 1) throttle.push(i, false);
    while (starts.length < 10) await vi.advanceTimersByTimeAsync(100);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(2);
    await throttle.stop();
  });

  it('never runs more than maxConcurrent at once', async () => {
    let running = 0;
    let peak = 0;
    const throttle = new Throttle<number>({ perSecond: 999, maxConcurrent: 3 }, clock, async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running -= 1;
    });
    for (let i = 0; i < 30; i += 1) throttle.push(i, false);
    await vi.advanceTimersByTimeAsync(2000);
    expect(peak).toBe(3);
    expect(throttle.waiting).toBe(0);
    await throttle.stop();
  });

  it('starts an urgent item before every waiting standard one', async () => {
    const order: string[] = [];
    const throttle = new Throttle<string>({ perSecond: 2, maxConcurrent: 5 }, clock, async (item) => {
      order.push(item);
    });
    for (const item of ['s1', 's2', 's3', 's4', 's5']) throttle.push(item, false);
    await vi.advanceTimersByTimeAsync(10);
    expect(order).toEqual(['s1']);
    throttle.push('emergency', true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(order).toEqual(['s1', 'emergency', 's2', 's3', 's4', 's5']);
    await throttle.stop();
  });

  it('applies a new rate within a second', async () => {
    const starts: number[] = [];
    const throttle = new Throttle<number>({ perSecond: 1, maxConcurrent: 5 }, clock, async () => {
      starts.push(Date.now());
    });
    for (let i = 0; i < 40; i += 1) throttle.push(i, false);
    await vi.advanceTimersByTimeAsync(10);
    expect(starts).toHaveLength(1);
    const changedAt = Date.now();
    throttle.update({ perSecond: 20, maxConcurrent: 5 });
    await vi.advanceTimersByTimeAsync(2000);
    const after = starts.filter((t) => t > changedAt);
    expect(after.length).toBeGreaterThanOrEqual(20);
    expect((after[0] as number) - changedAt).toBeLessThanOrEqual(1000);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(20);
    await throttle.stop();
  });

  it('holds the window when the rate drops (the recent starts are kept)', async () => {
    const starts: number[] = [];
    const throttle = new Throttle<number>({ perSecond: 50, maxConcurrent: 50 }, clock, async () => {
      starts.push(Date.now());
    });
    for (let i = 0; i < 100; i += 1) throttle.push(i, false);
    await vi.advanceTimersByTimeAsync(500);
    throttle.update({ perSecond: 5, maxConcurrent: 50 });
    const changedAt = Date.now();
    await vi.advanceTimersByTimeAsync(3000);
    const later = starts.filter((t) => t >= changedAt);
    expect(maxInWindow(later)).toBeLessThanOrEqual(5);
    await throttle.stop();
  });
});

describe('Mailer throttle (real timers, real server)', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('starts at most Throttle Email Messages attempts in any sliding second, retries included', async () => {
    harness = await startHarness({ settings: { throttlePerSecond: 4 } });
    harness.sink.failNext('r0@example.org', { type: 'rcpt', code: 451 }, { type: 'rcpt', code: 451 });
    const sends = Array.from({ length: 9 }, (_, i) =>
      harness?.mailer.send({ to: `r${i}@example.org`, subject: `m${i}`, text: 'x' }),
    );
    await Promise.all(sends);
    const starts = harness.events.filter((e) => e.event === 'sending').map((e) => e.at);
    expect(starts).toHaveLength(11);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(4);
    expect(maxInWindow(starts, 2000)).toBeLessThanOrEqual(8);
  });

  it('sends an emergency message ahead of a queued backlog', async () => {
    harness = await startHarness({ settings: { throttlePerSecond: 3 } });
    const backlog = Array.from({ length: 6 }, (_, i) =>
      harness?.mailer.send({ to: `s${i}@example.org`, subject: 'standard', text: 'x' }, { id: `s${i}` }),
    );
    await new Promise((resolve) => harness?.mailer.once('sending', resolve));
    const emergency = harness.mailer.send(
      { to: 'all@example.org', subject: 'Emergency: school closed', text: 'x' },
      { kind: 'emergency', id: 'alert' },
    );
    await Promise.all([...backlog, emergency]);
    const queuedAt = harness.events.findIndex((e) => e.event === 'queued' && e.payload.id === 'alert');
    const nextStart = harness.events.slice(queuedAt).find((e) => e.event === 'sending');
    expect(nextStart?.payload).toMatchObject({ id: 'alert' });
    expect(harness.sink.messages.findIndex((m) => m.subject.startsWith('Emergency'))).toBeLessThan(2);
  });
});
