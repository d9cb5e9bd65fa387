// The life of a MailerGroup with real parts: a real SMTP server on 127.0.0.1 (the districts' relays, own and
// hosted, all point at it), spool folders in a temporary directory, the system clock unless a test needs to place
// a moment exactly. Districts are opened on first use, closed when idle, reconfigured when saved, resumed from
// their spools, and the whole group closed; every event carries its district.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Clock,
  DeliveryCancelledError,
  EmailSettingsError,
  type EmailSettingsInput,
  Mailer,
  MailerClosedError,
  MailerGroup,
  type MailerGroupEvents,
  type MailerGroupOptions,
  type MailMessage,
  NotConfiguredError,
  type SendOptions,
  smtpTransport,
  spoolOutbox,
  type Transport,
  type TransportFactory,
} from '../src/index.js';
import { ManualClock } from './support/manual-clock.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { recordNamesNow } from './support/spool-files.js';

const HOSTED = 'relay.hosted.example';

let sink: SmtpSink;
const groups: MailerGroup[] = [];
const mailers: Mailer[] = [];
const dirs: string[] = [];

beforeEach(async () => {
  sink = await startSmtpSink();
});

afterEach(async () => {
  for (const group of groups.splice(0)) await group.close().catch(() => undefined);
  for (const mailer of mailers.splice(0)) await mailer.close().catch(() => undefined);
  await sink.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds, checking every few milliseconds; fails after `ms`. */
async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Gives queued callbacks and promise chains their turn (for tests on a ManualClock). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

const senderOf = (id: string, version = '') => `messenger${version}@${id}.k12.example`;

/** A district's settings: its own relay (`smtp.<id>.example`), which the transport takes to the sink. */
function settingsOf(id: string, extra: Partial<EmailSettingsInput> = {}): EmailSettingsInput {
  return {
    defaultSenderAddress: senderOf(id),
    smtpHost: `smtp.${id}.example`,
    smtpPort: sink.port,
    throttlePerSecond: 999,
    minutesBetweenRetries: 0,
    ...extra,
  };
}

const message = (to: string, subject = `to ${to}`): MailMessage => ({ to, subject, text: 'Hello' });

/** Lets attempts through, or holds them in the transport until opened again. */
class Gate {
  #held: (() => void)[] | undefined;

  close(): void {
    this.#held ??= [];
  }

  open(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const go of held) go();
  }

  pass(): Promise<void> {
    const held = this.#held;
    if (held === undefined) return Promise.resolve();
    return new Promise((resolve) => held.push(resolve));
  }
}

/**
 * The real SMTP transport, taken to the sink whatever the SMTP Host says (own relays and the hosted one are all
 * the sink), optionally held at a gate, optionally slow to close.
 */
function toSink(options: { gate?: Gate; closeDelayMs?: number } = {}): TransportFactory {
  return (settings) => {
    const real = smtpTransport({ ...settings, smtpHost: '127.0.0.1' }, { timeoutMs: 1500 });
    const transport: Transport = {
      send: async (mail, signal, progress) => {
        await options.gate?.pass();
        return real.send(mail, signal, progress);
      },
      close: async () => {
        if (options.closeDelayMs !== undefined) await sleep(options.closeDelayMs);
        await real.close?.();
      },
    };
    return transport;
  };
}

/** A group on the sink, closed after the test; `mailer: 'group'` leaves the districts' transports to the group. */
function makeGroup(
  options: Partial<Omit<MailerGroupOptions, 'mailer'>> & {
    mailer?: MailerGroupOptions['mailer'] | 'group';
  } = {},
): MailerGroup {
  const { mailer = () => ({ transport: toSink() }), ...rest } = options;
  const group = new MailerGroup({
    settings: (id) => settingsOf(id),
    ...(mailer === 'group' ? {} : { mailer }),
    ...rest,
  });
  groups.push(group);
  return group;
}

type Logged = {
  [E in keyof MailerGroupEvents]: { event: E; payload: MailerGroupEvents[E][0] };
}[keyof MailerGroupEvents];

/** Every event of the group, in order, each listener subscribed once on the group. */
function record(group: MailerGroup) {
  const log: Logged[] = [];
  const names = [
    'queued',
    'sending',
    'sent',
    'failed',
    'cancelled',
    'idle',
    'settingsChanged',
    'listenerError',
    'outboxError',
    'tenantOpened',
    'tenantClosed',
  ] as const;
  for (const event of names) {
    group.on(event, ((payload: unknown) => log.push({ event, payload } as Logged)) as never);
  }
  return {
    log,
    of<E extends keyof MailerGroupEvents>(event: E, tenant?: string): MailerGroupEvents[E][0][] {
      return log
        .filter((e) => e.event === event && (tenant === undefined || e.payload.tenant === tenant))
        .map((e) => e.payload) as MailerGroupEvents[E][0][];
    },
  };
}

/** Timers and TCP sockets of this process now (the sink's side of a connection counts too). */
function handles(): { timeouts: number; sockets: number } {
  const info = process.getActiveResourcesInfo();
  return {
    timeouts: info.filter((name) => name === 'Timeout').length,
    sockets: info.filter((name) => name === 'TCPSocketWrap' || name === 'TCPWrap').length,
  };
}

/** The system clock, counting the timers set through it and not yet run or cleared. */
class CountingClock implements Clock {
  readonly #pending = new Set<unknown>();

  get pending(): number {
    return this.#pending.size;
  }

  now(): number {
    return performance.timeOrigin + performance.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle = setTimeout(() => {
      this.#pending.delete(handle);
      fn();
    }, ms);
    this.#pending.add(handle);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle);
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }
}

/**
 * Waits until the process holds no more timers and TCP sockets than `before` (the test runner's own timers come
 * and go, so fewer may be left); fails after a second.
 */
async function backTo(before: { timeouts: number; sockets: number }): Promise<void> {
  await until(
    () => handles().sockets === before.sockets && handles().timeouts <= before.timeouts,
    `the timers and sockets to be released (before ${JSON.stringify(before)}, now ${JSON.stringify(handles())})`,
    1000,
  );
}

/** A port of 127.0.0.1 where nothing listens: the relay is down. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'messenger-email-group-'));
  dirs.push(dir);
  return dir;
}

/** Resolves with the error a promise rejects with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('MailerGroup: opening a district', () => {
  it('creates the district’s Mailer on first use, once under 50 concurrent calls, from one load', async () => {
    let loads = 0;
    const group = makeGroup({
      settings: async (id) => {
        loads += 1;
        await sleep(10);
        return settingsOf(id);
      },
    });
    const events = record(group);
    expect(group.get('a')).toBeUndefined();
    expect(loads).toBe(0);

    const opened = await Promise.all(Array.from({ length: 50 }, () => group.tenant('a')));
    expect(new Set(opened).size).toBe(1);
    expect(loads).toBe(1);
    expect(events.of('tenantOpened')).toEqual([{ tenant: 'a', hosted: false }]);
    const mailer = opened[0] as Mailer;
    expect(group.get('a')).toBe(mailer);
    expect(group.get('b')).toBeUndefined(); // get() never loads
    expect(loads).toBe(1);
    expect(group.stats().open).toBe(1);

    // The Mailer sends with the loaded settings.
    await group.send('a', message('parent@example.org'));
    expect(sink.messages.map((m) => m.from)).toEqual([senderOf('a')]);
    expect(loads).toBe(1);
  });

  it('rejects a district without settings with NotConfiguredError naming it, and keeps nothing open', async () => {
    let loads = 0;
    const group = makeGroup({
      settings: () => {
        loads += 1;
        return undefined;
      },
    });
    const error = await rejection(group.tenant('district-7'));
    expect(error).toBeInstanceOf(NotConfiguredError);
    expect((error as Error).message).toContain('district-7');
    await expect(group.send('district-7', message('p@example.org'))).rejects.toThrow(NotConfiguredError);
    expect(loads).toBe(2); // an absence is not remembered: the district may save settings at any moment
    expect(group.get('district-7')).toBeUndefined();
    expect(group.stats().open).toBe(0);
  });

  it('rejects invalid settings with EmailSettingsError, and opens once they are fixed', async () => {
    let settings: EmailSettingsInput = settingsOf('a', { throttlePerSecond: 5000, smtpHost: '' });
    const group = makeGroup({ settings: () => settings });
    await expect(group.tenant('a')).rejects.toThrow(EmailSettingsError);
    expect(group.get('a')).toBeUndefined();
    expect(group.stats().open).toBe(0);
    settings = settingsOf('a');
    await group.send('a', message('p@example.org'));
    expect(sink.messages).toHaveLength(1);
  });

  it('rejects an empty or missing district id with TypeError, without loading', async () => {
    let loads = 0;
    const group = makeGroup({
      settings: (id) => {
        loads += 1;
        return settingsOf(id);
      },
    });
    await expect(group.tenant('')).rejects.toThrow(TypeError);
    await expect(group.send('', message('p@example.org'))).rejects.toThrow(TypeError);
    await expect(group.enqueue(undefined as unknown as string, message('p@example.org'))).rejects.toThrow(
      TypeError,
    );
    expect(loads).toBe(0);
    expect(group.stats().open).toBe(0);
  });

  it('passes on the loader’s error to every waiting call, and loads again on the next call', async () => {
    const boom = new Error('the settings database is down');
    let loads = 0;
    const group = makeGroup({
      settings: async (id) => {
        loads += 1;
        await sleep(5);
        if (loads === 1) throw boom;
        return settingsOf(id);
      },
    });
    const first = await Promise.all([1, 2, 3].map(() => rejection(group.tenant('a'))));
    expect(first).toEqual([boom, boom, boom]);
    expect(loads).toBe(1);
    expect(group.get('a')).toBeUndefined();

    const mailer = await group.tenant('a');
    expect(loads).toBe(2);
    expect(group.get('a')).toBe(mailer);
  });

  it('passes on a loader that throws synchronously, as a rejection', async () => {
    const boom = new Error('sync failure');
    const group = makeGroup({
      settings: () => {
        throw boom;
      },
    });
    await expect(group.tenant('a')).rejects.toBe(boom);
    expect(group.stats().open).toBe(0);
  });
});

describe('MailerGroup: events', () => {
  it('passes on every event of two districts with the district, to listeners subscribed once', async () => {
    const saved = new Map<string, EmailSettingsInput>();
    const group = makeGroup({ settings: (id) => saved.get(id) ?? settingsOf(id) });
    const events = record(group);
    const sends: Promise<unknown>[] = [];
    for (const id of ['a', 'b']) {
      sink.failNext(`${id}-retry@example.org`, { type: 'rcpt', code: 451 });
      sink.failNext(`${id}-bad@example.org`, { type: 'rcpt', code: 550 });
      for (const kind of ['ok', 'retry', 'bad']) {
        const options: SendOptions = { id: `${id}-${kind}` };
        sends.push(group.send(id, message(`${id}-${kind}@example.org`), options).catch((error) => error));
      }
    }
    const outcomes = await Promise.all(sends);
    expect(outcomes.filter((o) => o instanceof DeliveryCancelledError)).toHaveLength(2);
    await until(() => events.of('idle', 'a').length > 0 && events.of('idle', 'b').length > 0, 'idle');
    for (const id of ['a', 'b']) saved.set(id, settingsOf(id, { defaultSenderAddress: senderOf(id, '2') }));
    await group.settingsSaved('a');
    await group.settingsSaved('b');
    await group.close();

    for (const id of ['a', 'b']) {
      const ids = (list: { id: string }[]) => list.map((e) => e.id).sort();
      expect(ids(events.of('queued', id))).toEqual([`${id}-bad`, `${id}-ok`, `${id}-retry`]);
      expect(ids(events.of('sending', id))).toEqual([`${id}-bad`, `${id}-ok`, `${id}-retry`, `${id}-retry`]);
      expect(ids(events.of('sent', id))).toEqual([`${id}-ok`, `${id}-retry`]);
      expect(
        events.of('failed', id).map((e) => [e.id, e.willRetry]),
        id,
      ).toEqual(
        expect.arrayContaining([
          [`${id}-retry`, true],
          [`${id}-bad`, false],
        ]),
      );
      expect(events.of('failed', id)).toHaveLength(2);
      expect(events.of('cancelled', id).map((e) => [e.id, e.reason])).toEqual([[`${id}-bad`, 'permanent']]);
      expect(events.of('idle', id)[0]).toEqual({ tenant: id });
      expect(events.of('settingsChanged', id).map((e) => e.settings.defaultSenderAddress)).toEqual([
        senderOf(id, '2'),
      ]);
      expect(events.of('tenantOpened', id)).toEqual([{ tenant: id, hosted: false }]);
      expect(events.of('tenantClosed', id)).toEqual([{ tenant: id, reason: 'closed' }]);
    }
    // No event of one district carries the other's id.
    for (const entry of events.log) {
      const payload = entry.payload as { tenant: string; id?: string };
      expect(['a', 'b']).toContain(payload.tenant);
      if (payload.id !== undefined) expect(payload.id.startsWith(`${payload.tenant}-`)).toBe(true);
    }
    expect(events.of('listenerError')).toEqual([]);
  });

  it('keeps delivering when a group listener throws, and reports it as listenerError', async () => {
    const group = makeGroup();
    const events = record(group);
    group.on('sent', () => {
      throw new Error('listener bug');
    });
    const seen: string[] = [];
    group.on('sent', (e) => seen.push(e.id));
    const report = await group.send('a', message('p@example.org'), { id: 'a-1' });
    expect(report.id).toBe('a-1');
    expect(seen).toEqual(['a-1']);
    const reported = events.of('listenerError');
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ event: 'sent', error: new Error('listener bug') });
    await group.send('a', message('q@example.org'), { id: 'a-2' });
    expect(seen).toEqual(['a-1', 'a-2']);
  });

  // DEFECT: MailerGroup.listenerFailed (src/tenants/group.ts, `this.emit('listenerError', { tenant: '', ... })`)
  // reports a group listener's failure with `tenant: ''`, although the payload it was given names the district.
  it('reports a failing group listener with the district it was called for', async () => {
    const group = makeGroup();
    const events = record(group);
    group.on('sent', () => {
      throw new Error('listener bug');
    });
    await group.send('a', message('p@example.org'));
    expect(events.of('listenerError')[0]?.tenant).toBe('a');
  });
});

describe('MailerGroup: idle districts', () => {
  it('closes a district idle for idleMs, leaving no timer or socket, and opens it afresh on next use', async () => {
    const before = handles();
    const clock = new CountingClock();
    let loads = 0;
    const group = makeGroup({
      clock,
      idleMs: 60,
      settings: (id) => {
        loads += 1;
        return settingsOf(id);
      },
    });
    const events = record(group);
    const first = await group.tenant('a');
    await group.send('a', message('p@example.org'));
    // the district's pool keeps its connection, and its idle timer runs
    expect(handles().sockets).toBeGreaterThan(before.sockets);
    expect(clock.pending).toBeGreaterThan(0);
    expect(group.stats().open).toBe(1);

    await until(() => events.of('tenantClosed').length > 0, 'the idle close');
    expect(events.of('tenantClosed')).toEqual([{ tenant: 'a', reason: 'idle' }]);
    expect(group.get('a')).toBeUndefined();
    expect(group.stats().open).toBe(0);
    expect(clock.pending).toBe(0);
    await backTo(before);
    expect(sink.openConnections).toBe(0);

    const again = await group.tenant('a');
    expect(again).not.toBe(first);
    expect(loads).toBe(2);
    expect(events.of('tenantOpened')).toHaveLength(2);
  });

  it('keeps a district open while a message waits to retry, and closes it once delivered', async () => {
    const saved = new Map<string, EmailSettingsInput>([['a', settingsOf('a', { minutesBetweenRetries: 1 })]]);
    const group = makeGroup({ idleMs: 40, settings: (id) => saved.get(id) });
    const events = record(group);
    sink.failNext('p@example.org', { type: 'rcpt', code: 451 });
    const sent = group.send('a', message('p@example.org'));
    await until(() => events.of('failed').length === 1, 'the failed attempt');
    await sleep(300); // many times idleMs
    expect(events.of('tenantClosed')).toEqual([]);
    expect(group.get('a')).toBeDefined();
    expect(group.stats()).toMatchObject({ open: 1, waitingRetry: 1 });

    // Saved settings with no wait make the retry due at once: delivered, then idle, then closed.
    saved.set('a', settingsOf('a'));
    await group.settingsSaved('a');
    const report = await sent;
    expect(report.attempts).toBe(2);
    await until(() => events.of('tenantClosed').length > 0, 'the idle close');
    expect(events.of('tenantClosed')).toEqual([{ tenant: 'a', reason: 'idle' }]);
    expect(sink.messages).toHaveLength(1);
  });

  it('waits for a district being closed when idle, then opens a fresh Mailer: no message lost', async () => {
    let loads = 0;
    const group = makeGroup({
      idleMs: 30,
      settings: (id) => {
        loads += 1;
        return settingsOf(id);
      },
      mailer: () => ({ transport: toSink({ closeDelayMs: 150 }) }),
    });
    const events = record(group);
    const first = await group.tenant('a');
    // closing: no longer handed out, not yet gone
    await until(() => group.get('a') === undefined, 'the idle close to start');
    expect(events.of('tenantClosed')).toEqual([]);
    expect(group.stats().open).toBe(0); // a district being closed is no longer counted as open

    const sends = [1, 2, 3].map((i) => group.send('a', message(`p${i}@example.org`), { id: `m${i}` }));
    const reports = await Promise.all(sends);
    expect(reports.map((r) => r.id)).toEqual(['m1', 'm2', 'm3']);
    expect(events.of('tenantClosed')).toEqual([{ tenant: 'a', reason: 'idle' }]);
    expect(events.of('tenantOpened')).toHaveLength(2);
    expect(loads).toBe(2);
    const second = group.get('a');
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(sink.messages.map((m) => m.to[0]).sort()).toEqual([
      'p1@example.org',
      'p2@example.org',
      'p3@example.org',
    ]);
  });

  it('opens and idles 1,000 districts, leaving no district, timer or socket behind', async () => {
    const before = handles();
    const clock = new CountingClock();
    const group = makeGroup({ clock, idleMs: 20 });
    const events = record(group);
    const ids = Array.from({ length: 1000 }, (_, i) => `d${i}`);
    await Promise.all(ids.map((id) => group.tenant(id)));
    expect(group.stats().open).toBe(1000);
    await until(() => events.of('tenantClosed').length === 1000, '1,000 idle closes', 5000);
    expect(group.stats()).toEqual({
      open: 0,
      hosted: 0,
      queued: 0,
      sending: 0,
      waitingRetry: 0,
      hostedInUse: 0,
    });
    expect(ids.every((id) => group.get(id) === undefined)).toBe(true);
    expect(clock.pending).toBe(0);
    await backTo(before);
  });
});

describe('MailerGroup: settings saved', () => {
  it('applies saved settings to an open district: the next message shows them', async () => {
    const saved = new Map<string, EmailSettingsInput>([['a', settingsOf('a')]]);
    let loads = 0;
    const group = makeGroup({
      settings: (id) => {
        loads += 1;
        return saved.get(id);
      },
    });
    const events = record(group);
    const mailer = await group.tenant('a');
    await group.send('a', message('p@example.org'));
    saved.set('a', settingsOf('a', { defaultSenderAddress: senderOf('a', '2'), throttlePerSecond: 7 }));
    await group.settingsSaved('a');
    expect(loads).toBe(2);
    expect(group.get('a')).toBe(mailer); // the same Mailer, reconfigured
    expect(events.of('settingsChanged', 'a').map((e) => e.settings.throttlePerSecond)).toEqual([7]);
    await group.send('a', message('q@example.org'));
    expect(sink.messages.map((m) => m.from)).toEqual([senderOf('a'), senderOf('a', '2')]);
  });

  it('rejects invalid saved settings with EmailSettingsError and keeps the old ones', async () => {
    const saved = new Map<string, EmailSettingsInput>([['a', settingsOf('a')]]);
    const group = makeGroup({ settings: (id) => saved.get(id) });
    await group.tenant('a');
    saved.set('a', settingsOf('a', { defaultSenderAddress: 'not an address' }));
    await expect(group.settingsSaved('a')).rejects.toThrow(EmailSettingsError);
    await group.send('a', message('p@example.org'));
    expect(sink.messages.map((m) => m.from)).toEqual([senderOf('a')]);
  });

  it('moves a district to and from the hosted relay’s budget as its SMTP Host changes', async () => {
    const saved = new Map<string, EmailSettingsInput>([
      ['a', settingsOf('a')],
      ['b', settingsOf('b', { smtpHost: HOSTED })],
    ]);
    const gate = new Gate();
    const group = makeGroup({
      settings: (id) => saved.get(id),
      policy: { hostedSmtpHosts: [HOSTED] },
      hostedRelay: { perSecond: 100, connections: 4 },
      mailer: () => ({ transport: toSink({ gate }) }),
    });
    const events = record(group);
    /** The relay's connections held while one message of `a` is held in the transport. */
    const heldOnRelay = async (): Promise<number> => {
      gate.close();
      const sent = group.send('a', message('p@example.org'));
      await until(() => group.stats().sending === 1, 'the attempt');
      const inUse = group.stats().hostedInUse;
      gate.open();
      await sent;
      await until(() => group.stats().hostedInUse === 0, 'the relay connection to be freed');
      return inUse;
    };

    await group.tenant('a');
    expect(events.of('tenantOpened', 'a')).toEqual([{ tenant: 'a', hosted: false }]);
    expect(group.stats().hosted).toBe(0);
    expect(await heldOnRelay()).toBe(0);

    saved.set('a', settingsOf('a', { smtpHost: HOSTED.toUpperCase() }));
    await group.settingsSaved('a');
    expect(group.stats().hosted).toBe(1);
    expect(await heldOnRelay()).toBe(1);

    saved.set('a', settingsOf('a', { smtpHost: 'smtp.a-new.example' }));
    await group.settingsSaved('a');
    expect(group.stats().hosted).toBe(0);
    expect(await heldOnRelay()).toBe(0);

    await group.tenant('b');
    expect(events.of('tenantOpened', 'b')).toEqual([{ tenant: 'b', hosted: true }]);
    expect(group.stats()).toMatchObject({ open: 2, hosted: 1 });
    expect(sink.messages).toHaveLength(3);
  });

  it('closes a district whose settings are gone, cancelling what waits', async () => {
    const saved = new Map<string, EmailSettingsInput>([['a', settingsOf('a', { minutesBetweenRetries: 1 })]]);
    const group = makeGroup({ settings: (id) => saved.get(id) });
    const events = record(group);
    sink.failNext('p@example.org', { type: 'rcpt', code: 451 });
    const waiting = rejection(group.send('a', message('p@example.org')));
    await until(() => events.of('failed').length === 1, 'the failed attempt');
    saved.delete('a');
    await group.settingsSaved('a');
    expect(events.of('tenantClosed')).toEqual([{ tenant: 'a', reason: 'closed' }]);
    expect(group.get('a')).toBeUndefined();
    expect(group.stats().open).toBe(0);
    const error = await waiting;
    expect(error).toBeInstanceOf(DeliveryCancelledError);
    expect((error as DeliveryCancelledError).reason).toBe('closed');
    await expect(group.tenant('a')).rejects.toThrow(NotConfiguredError);
  });

  it('does nothing for a district that is not open: the next use loads the saved settings', async () => {
    const saved = new Map<string, EmailSettingsInput>([['a', settingsOf('a')]]);
    let loads = 0;
    const group = makeGroup({
      idleMs: 30,
      settings: (id) => {
        loads += 1;
        return saved.get(id);
      },
    });
    const events = record(group);
    await group.settingsSaved('never-used');
    expect(loads).toBe(0);

    await group.send('a', message('p@example.org'));
    await until(() => events.of('tenantClosed').length === 1, 'the idle close');
    saved.set('a', settingsOf('a', { defaultSenderAddress: senderOf('a', '2') }));
    await group.settingsSaved('a');
    expect(loads).toBe(1);
    expect(group.get('a')).toBeUndefined();
    expect(events.of('settingsChanged')).toEqual([]);

    await group.send('a', message('q@example.org'));
    expect(loads).toBe(2);
    expect(sink.messages.map((m) => m.from)).toEqual([senderOf('a'), senderOf('a', '2')]);
  });
});

describe('MailerGroup: districts on spools', () => {
  it('keeps what waits in each district’s spool when the group closes; a new group delivers each once', async () => {
    const base = await tempDir();
    const down = await deadPort();
    const options = (port: number, minutes: number): Partial<MailerGroupOptions> => ({
      settings: (id) => settingsOf(id, { smtpPort: port, minutesBetweenRetries: minutes }),
      mailer: (id) => ({ outbox: spoolOutbox(join(base, id)), transport: toSink() }),
    });

    // The relay is down: every first attempt fails, and the messages wait in the districts' spools.
    const first = makeGroup(options(down, 1));
    const before = record(first);
    const ids: [string, string][] = [
      ['a', 'a-1'],
      ['a', 'a-2'],
      ['a', 'a-3'],
      ['b', 'b-1'],
      ['b', 'b-2'],
    ];
    for (const [tenant, id] of ids) {
      expect(await first.enqueue(tenant, message(`${id}@example.org`, id), { id })).toEqual({ id });
    }
    const waiting = rejection(first.send('a', message('a-4@example.org', 'a-4'), { id: 'a-4' }));
    await until(() => before.of('failed').length === 6, 'six failed attempts');
    expect(before.of('failed').every((e) => e.willRetry)).toBe(true);
    await first.close();
    expect(await waiting).toBeInstanceOf(MailerClosedError); // kept for the next process, as the Mailer says
    expect(before.of('cancelled')).toEqual([]);
    expect(before.of('tenantClosed').map((e) => e.reason)).toEqual(['closed', 'closed']);
    expect((await recordNamesNow(join(base, 'a'))).length).toBe(4);
    expect((await recordNamesNow(join(base, 'b'))).length).toBe(2);
    expect(sink.messages).toEqual([]);

    // The relay is up: a new group resumes each district's spool on its first use.
    const second = makeGroup(options(sink.port, 0));
    const after = record(second);
    await second.tenant('a');
    await second.tenant('b');
    await until(() => after.of('sent').length === 6, 'six deliveries');
    expect(
      after
        .of('queued')
        .map((e) => [e.tenant, e.id, e.resumed])
        .sort(),
    ).toEqual(
      [...ids, ['a', 'a-4']].map(([tenant, id]) => [tenant, id, true]).sort() as [string, string, boolean][],
    );
    await sleep(50);
    expect(sink.messages.map((m) => m.subject).sort()).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'b-1', 'b-2']);
    expect(await recordNamesNow(join(base, 'a'))).toEqual([]);
    expect(await recordNamesNow(join(base, 'b'))).toEqual([]);
  });

  it('keeps a resumed district open while its messages wait to retry', async () => {
    const base = await tempDir();
    const down = await deadPort();
    const options: Partial<MailerGroupOptions> = {
      idleMs: 40,
      settings: (id) => settingsOf(id, { smtpPort: down, minutesBetweenRetries: 1 }),
      mailer: (id) => ({ outbox: spoolOutbox(join(base, id)), transport: toSink() }),
    };
    const first = makeGroup(options);
    const events = record(first);
    await first.enqueue('a', message('p@example.org'));
    await until(() => events.of('failed').length === 1, 'the failed attempt');
    await first.close();

    const second = makeGroup(options);
    const after = record(second);
    await second.tenant('a');
    expect(second.stats()).toMatchObject({ open: 1, waitingRetry: 1 });
    await sleep(200); // five times idleMs
    expect(after.of('tenantClosed')).toEqual([]);
    expect(second.get('a')).toBeDefined();
  });
});

describe('MailerGroup: close() and stats()', () => {
  it('closes every district, refuses later use, and rejects a waiting send as the Mailer’s close does', async () => {
    const settings = (id: string) => settingsOf(id, { minutesBetweenRetries: 1 });
    const group = makeGroup({ settings });
    const events = record(group);
    sink.failNext('a@example.org', { type: 'rcpt', code: 451 });
    sink.failNext('lone@example.org', { type: 'rcpt', code: 451 });
    const waiting = rejection(group.send('a', message('a@example.org')));
    await group.send('b', message('b@example.org'));
    await until(() => events.of('failed').length === 1, 'the failed attempt');

    // The same with a lone Mailer, for comparison.
    const lone = new Mailer({ settings: settings('lone'), transport: toSink() });
    mailers.push(lone);
    const loneFailed = new Promise((resolve) => lone.once('failed', resolve));
    const loneWaiting = rejection(lone.send(message('lone@example.org')));
    await loneFailed;
    await lone.close();
    const loneError = await loneWaiting;

    await group.close();
    const error = await waiting;
    expect(error).toBeInstanceOf(DeliveryCancelledError);
    expect(error?.constructor).toBe(loneError?.constructor);
    expect((error as DeliveryCancelledError).reason).toBe((loneError as DeliveryCancelledError).reason);
    expect(events.of('tenantClosed').sort((x, y) => x.tenant.localeCompare(y.tenant))).toEqual([
      { tenant: 'a', reason: 'closed' },
      { tenant: 'b', reason: 'closed' },
    ]);
    expect(group.stats().open).toBe(0);
    expect(group.get('a')).toBeUndefined();
    await expect(group.tenant('a')).rejects.toThrow(/closed/);
    await expect(group.send('c', message('c@example.org'))).rejects.toThrow(/closed/);
    await group.close(); // again: nothing more happens
    expect(events.of('tenantClosed')).toHaveLength(2);
  });

  // DEFECT: MailerGroup.tenant()'s doc says "MailerClosedError once the group is closed", and a closed Mailer's
  // send() rejects with MailerClosedError; #open and #create (src/tenants/group.ts) throw NotConfiguredError.
  it('rejects use of a closed group with MailerClosedError, as documented', async () => {
    const group = makeGroup();
    await group.close();
    await expect(group.tenant('a')).rejects.toThrow(MailerClosedError);
  });

  it('stats() sums the open districts’ counts', async () => {
    const gate = new Gate();
    const saved = new Map<string, EmailSettingsInput>([
      ['a', settingsOf('a')],
      ['b', settingsOf('b', { minutesBetweenRetries: 1 })],
    ]);
    const group = makeGroup({
      settings: (id) => saved.get(id),
      mailer: (id) => ({ transport: toSink(id === 'a' ? { gate } : {}), maxConcurrent: 1 }),
    });
    const events = record(group);
    sink.failNext('b1@example.org', { type: 'rcpt', code: 451 });
    const b1 = rejection(group.send('b', message('b1@example.org')));
    await until(() => events.of('failed', 'b').length === 1, 'b’s failed attempt');
    await group.send('b', message('b2@example.org'));
    gate.close();
    const a = [1, 2, 3].map((i) => group.send('a', message(`a${i}@example.org`)));
    await until(() => group.stats().sending === 1, 'a’s first attempt');

    const sum = (key: 'queued' | 'sending' | 'waitingRetry') =>
      ['a', 'b'].reduce((total, id) => total + (group.get(id)?.stats()[key] ?? 0), 0);
    expect(group.stats()).toEqual({
      open: 2,
      hosted: 0,
      queued: 2,
      sending: 1,
      waitingRetry: 1,
      hostedInUse: 0,
    });
    expect([sum('queued'), sum('sending'), sum('waitingRetry')]).toEqual([2, 1, 1]);

    gate.open();
    await Promise.all(a);
    expect(group.stats()).toMatchObject({ open: 2, queued: 0, sending: 0, waitingRetry: 1 });
    await group.close();
    expect(await b1).toBeInstanceOf(DeliveryCancelledError);
    expect(group.stats()).toMatchObject({ open: 0, queued: 0, sending: 0, waitingRetry: 0 });
  });
});

describe('MailerGroup: the hosted relay', () => {
  it('serves every district in turn through a relay of one connection, and leaves no timer once closed', async () => {
    const clock = new CountingClock();
    const group = makeGroup({
      clock,
      settings: (id) => settingsOf(id, { smtpHost: HOSTED }),
      policy: { hostedSmtpHosts: [HOSTED] },
      hostedRelay: { perSecond: 200, connections: 1 },
      mailer: () => ({ transport: toSink(), maxConcurrent: 3 }),
    });
    let most = 0;
    group.on('sending', () => {
      most = Math.max(most, group.stats().hostedInUse);
    });
    const sends = ['a', 'b', 'c'].flatMap((id) =>
      [1, 2, 3, 4, 5].map((i) => group.send(id, message(`${id}${i}@example.org`))),
    );
    await Promise.all(sends);
    expect(sink.messages).toHaveLength(15);
    expect(most).toBe(1);
    expect(group.stats()).toMatchObject({ hosted: 3, hostedInUse: 0 });
    await group.close();
    expect(clock.pending).toBe(0);
  });

  it('a district closed while it holds the relay’s only connection leaves it to the others', async () => {
    const gate = new Gate();
    const saved = new Map<string, EmailSettingsInput>([
      ['a', settingsOf('a', { smtpHost: HOSTED })],
      ['b', settingsOf('b', { smtpHost: HOSTED })],
    ]);
    const group = makeGroup({
      settings: (id) => saved.get(id),
      policy: { hostedSmtpHosts: [HOSTED] },
      hostedRelay: { perSecond: 200, connections: 1 },
      mailer: (id) => ({ transport: toSink(id === 'a' ? { gate } : {}) }),
    });
    gate.close();
    const a = [1, 2, 3].map((i) =>
      group.send('a', message(`a${i}@example.org`)).then(
        () => 'sent',
        (error: unknown) => error,
      ),
    );
    await until(() => group.stats().hostedInUse === 1 && group.stats().sending === 1, 'a on the relay');
    const b = [1, 2, 3].map((i) => group.send('b', message(`b${i}@example.org`)));
    await sleep(50);
    expect(group.get('b')?.stats().queued).toBe(3); // waiting for the one connection

    saved.delete('a');
    const closing = group.settingsSaved('a');
    gate.open();
    await closing;
    await Promise.all(b);
    // a's attempt in flight was let finish; the two waiting behind it were cancelled with the district
    const outcomes = await Promise.all(a);
    expect(outcomes[0]).toBe('sent');
    expect(outcomes.slice(1).map((o) => (o as DeliveryCancelledError).reason)).toEqual(['closed', 'closed']);
    expect(sink.messages.filter((m) => m.to[0]?.startsWith('b'))).toHaveLength(3);
    expect(group.stats()).toMatchObject({ open: 1, hostedInUse: 0 });
  });

  it('districts on the hosted relay share one pool of its connections, closed when the last one idles', async () => {
    const before = handles();
    const clock = new CountingClock();
    const group = makeGroup({
      clock,
      idleMs: 50,
      settings: (id) => settingsOf(id, { smtpHost: '127.0.0.1' }),
      policy: { hostedSmtpHosts: ['127.0.0.1'] },
      hostedRelay: { perSecond: 200, connections: 2 },
      mailer: 'group', // the group's own transports
    });
    const events = record(group);
    let most = 0;
    group.on('sending', () => {
      most = Math.max(most, sink.openConnections);
    });
    const ids = ['a', 'b', 'c', 'd'];
    await Promise.all(
      ids.flatMap((id) => [1, 2, 3, 4, 5].map((i) => group.send(id, message(`${id}${i}@example.org`)))),
    );
    expect(sink.messages).toHaveLength(20);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    expect(sink.connections).toBeLessThanOrEqual(2);
    await until(() => events.of('tenantClosed').length === 4, 'every district to idle');
    // the relay's budget may keep one timer for an offer not taken (OFFER_MS, 250 ms) a moment longer
    await until(() => clock.pending === 0, 'the budget’s last timer', 400);
    await backTo(before);
    expect(sink.openConnections).toBe(0);
  });

  it('a share that throws, or is not a positive number, fails that district only, saying so', async () => {
    const boom = new Error('no weight for this district');
    const group = makeGroup({
      settings: (id) => settingsOf(id, { smtpHost: HOSTED }),
      policy: { hostedSmtpHosts: [HOSTED] },
      hostedRelay: { perSecond: 100, connections: 2 },
      share: (id) => {
        if (id === 'bad') throw boom;
        return id === 'nan' ? Number.NaN : -3;
      },
    });
    await expect(group.tenant('bad')).rejects.toBe(boom);
    expect(group.get('bad')).toBeUndefined();
    await expect(group.send('nan', message('n@example.org'))).rejects.toThrow(
      /share must give a positive number for district "nan" \(received "NaN"\)/,
    );
    await expect(group.send('neg', message('m@example.org'))).rejects.toThrow(
      /district "neg" \(received "-3"\)/,
    );
    const good = makeGroup({
      settings: (id) => settingsOf(id, { smtpHost: HOSTED }),
      policy: { hostedSmtpHosts: [HOSTED] },
      hostedRelay: { perSecond: 100, connections: 2 },
      share: () => 2,
    });
    await good.send('ok', message('o@example.org'));
    expect(sink.messages).toHaveLength(1);
    expect(group.stats()).toMatchObject({ open: 0 });
  });
});

describe('MailerGroup: defects found', () => {
  // DEFECT: the idle timer (#armIdle, src/tenants/group.ts) is disarmed only by `queued`, and #isIdle counts only
  // what the outbox holds. A message handed to group.send() whose attachment is still being measured (or whose
  // spool record is still being written) is in neither; the timer closes the district under it, and the send
  // rejects with MailerClosedError although the group is open.
  it('does not close a district under a message still being handed over', async () => {
    const clock = new ManualClock();
    const dir = await tempDir();
    const file = join(dir, 'notice.txt');
    await writeFile(file, 'attached');
    const group = makeGroup({
      clock,
      idleMs: 1000,
      settings: (id) => settingsOf(id, { allowAttachments: true }),
    });
    await group.tenant('a');
    clock.advance(990);
    const outcome = group
      .send('a', { ...message('p@example.org'), attachments: [{ filename: 'notice.txt', path: file }] })
      .then(
        () => 'sent',
        (error: Error) => error.name,
      );
    for (let i = 0; i < 10; i += 1) await Promise.resolve(); // handed to the Mailer, the file being measured
    clock.advance(20);
    await flush();
    expect(await outcome).toBe('sent');
  });

  // DEFECT: settingsSaved() returns at once while the district is still being opened (#opening is not looked at,
  // src/tenants/group.ts `if (tenant === undefined || tenant.closing !== undefined) return;`): when the loader read
  // the old settings just before the save, the district keeps sending with them until it idles.
  it('applies settings saved while the district was being opened', async () => {
    let version = 1;
    const group = makeGroup({
      settings: async (id) => {
        const read = version;
        await sleep(30);
        return settingsOf(id, { defaultSenderAddress: senderOf(id, String(read)) });
      },
    });
    const opening = group.tenant('a');
    await sleep(5); // the loader has read version 1
    version = 2;
    await group.settingsSaved('a');
    await opening;
    await group.send('a', message('p@example.org'));
    expect(sink.messages[0]?.from).toBe(senderOf('a', '2'));
  });

  // DEFECT: in #create (src/tenants/group.ts) the district is put in #tenants before `await mailer.resume()`; when
  // resume() rejects (here: the spool is locked by another group), the half-open Mailer stays: get() returns it,
  // stats() counts it, no idle timer is armed, tenantOpened is never emitted, and the next tenant() resolves with a
  // Mailer that never loaded its spool.
  it('leaves nothing open when resuming a district’s spool fails', async () => {
    const base = await tempDir();
    const options: Partial<MailerGroupOptions> = {
      mailer: (id) => ({ outbox: spoolOutbox(join(base, id)), transport: toSink() }),
    };
    const holder = makeGroup(options);
    await holder.tenant('a'); // takes the spool's lock
    const other = makeGroup(options);
    await expect(other.tenant('a')).rejects.toThrow();
    expect(other.get('a')).toBeUndefined();
    expect(other.stats().open).toBe(0);
    await expect(other.tenant('a')).rejects.toThrow();
  });

  // DEFECT: settingsSaved() awaits the loader, then calls configure() on the Mailer it looked up before; when the
  // district was closed meanwhile (idle), configure() throws MailerClosedError instead of doing nothing.
  it('ignores a save for a district that idled while its settings were loading', async () => {
    let loads = 0;
    const group = makeGroup({
      idleMs: 20,
      settings: async (id) => {
        loads += 1;
        if (loads > 1) await sleep(100);
        return settingsOf(id);
      },
    });
    await group.tenant('a');
    await expect(group.settingsSaved('a')).resolves.toBeUndefined();
  });
});
