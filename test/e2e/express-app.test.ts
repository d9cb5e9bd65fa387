// The Express example (examples/express-app) in-process against a capture sink: the route answers at once, the
// delivery log follows each message through the Mailer's events, emergencies overtake a throttled backlog, a 451 is
// retried, bad input gets a readable 400, and shutdown loses nothing it promised to keep.
// Needs `npm run build` first (the example imports the built package by its name).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type DeliveryRecord,
  type MessagesApp,
  type MessagesAppOptions,
  startMessagesApp,
} from '../../examples/express-app/app.mjs';
import { loadSettings } from '../../examples/express-app/settings.mjs';
import type { EmailSettingsInput } from '../../src/index.js';
import { type CaptureSink, startCaptureSink } from '../../src/sink/capture.js';

const SENDER = 'messenger@district.k12.us';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Reply<T> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
  /** Milliseconds from the request to the end of the answer. */
  ms: number;
}

/** What POST /messages answers. */
interface Accepted {
  id: string;
  status: string;
  error?: string;
}

/** An HTTP request on a connection of its own (no keep-alive), so that nothing is left open after it. */
function request<T>(url: string, method: string, body?: string, contentType?: string): Promise<Reply<T>> {
  const started = performance.now();
  const headers: Record<string, string | number> = {};
  if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
  if (contentType !== undefined) headers['content-type'] = contentType;
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: (text === '' ? undefined : JSON.parse(text)) as T,
          ms: performance.now() - started,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

let sink: CaptureSink;
let app: MessagesApp | undefined;
let logs: string[];
const log = {
  info: (text: string) => logs.push(text),
  warn: (text: string) => logs.push(text),
  error: (text: string) => logs.push(text),
};

/** Settings aimed at the sink; retries at the next free slot. */
function sinkSettings(extra: Partial<EmailSettingsInput> = {}): EmailSettingsInput {
  return {
    defaultSenderAddress: SENDER,
    smtpHost: '127.0.0.1',
    smtpPort: sink.port,
    minutesBetweenRetries: 0,
    ...extra,
  };
}

async function start(options: MessagesAppOptions): Promise<MessagesApp> {
  app = await startMessagesApp({ port: 0, host: '127.0.0.1', log, ...options });
  return app;
}

function post(body: unknown): Promise<Reply<Accepted>> {
  return request<Accepted>(`${app?.url}/messages`, 'POST', JSON.stringify(body), 'application/json');
}

async function statusOf(id: string): Promise<DeliveryRecord> {
  const reply = await request<DeliveryRecord>(`${app?.url}/messages/${id}`, 'GET');
  expect(reply.status).toBe(200);
  return reply.body;
}

/** Reads `read()` every 10 ms until `done` holds; fails after `timeoutMs` with the last value read. */
async function waitFor<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(10);
  }
}

const waitForStatus = (id: string, status: string) =>
  waitFor(
    `${id} to be ${status}`,
    () => statusOf(id),
    (record) => record.status === status,
  );

const waitForSink = (count: number) =>
  waitFor(
    `${count} message(s) at the sink`,
    () => sink.messages.length,
    (n) => n >= count,
  );

/** The open sockets, servers and timers of this process, by kind. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

beforeEach(async () => {
  logs = [];
  sink = await startCaptureSink({ host: '127.0.0.1', port: 0 });
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await sink.close();
});

describe('the Express example: POST /messages and GET /messages/:id', () => {
  it('answers 202 with an id before delivery, and the sink receives the message', async () => {
    await start({ settings: sinkSettings({ throttlePerSecond: 1 }) });
    const first = await post({ to: 'parent@example.org', subject: 'Attendance', text: 'Absent today.' });
    // the throttle lets one attempt start a second: this one waits about a second, and the answer must not
    const second = await post({ to: 'guardian@example.org', subject: 'Lunch balance', text: 'Low balance.' });

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toMatch(UUID);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.headers.location).toBe(`/messages/${second.body.id}`);
    expect(second.body.status).toBe('queued');
    expect(second.ms).toBeLessThan(500);
    expect((await statusOf(second.body.id)).status).toBe('queued'); // still waiting for the throttle

    await waitForSink(2);
    expect(sink.messages.map((m) => [m.subject, m.to, m.from])).toEqual([
      ['Attendance', ['parent@example.org'], SENDER],
      ['Lunch balance', ['guardian@example.org'], SENDER],
    ]);
    expect(sink.messages[0]?.raw.toString('utf8')).toContain('Absent today.');
  });

  it('shows sent after delivery, with the attempt count, the Message-ID and the reply', async () => {
    await start({ settings: sinkSettings() });
    const { body } = await post({
      to: ['parent@example.org', 'guardian@example.org'],
      subject: 'Bus',
      text: 'Late.',
    });

    const record = await waitForStatus(body.id, 'sent');
    expect(record).toMatchObject({ id: body.id, status: 'sent', kind: 'standard', attempts: 1 });
    expect(record.history.map((step) => step.status)).toEqual(['queued', 'sending', 'sent']);
    expect(record.response).toBe('250 OK: saved as message 1');
    expect(record.messageId).toMatch(/^<[^@]+@district\.k12\.us>$/);
    expect(record.lastError).toBeUndefined();
    expect(sink.messages[0]?.to).toEqual(['parent@example.org', 'guardian@example.org']);

    const unknown = await request<{ error: string }>(`${app?.url}/messages/no-such-id`, 'GET');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'No message with this id' });
  });

  it('sends an emergency message ahead of the standard ones waiting under the throttle', async () => {
    await start({ settings: sinkSettings({ throttlePerSecond: 1 }) });
    const standard: string[] = [];
    for (let n = 1; n <= 4; n += 1) {
      const { body } = await post({
        to: `family${n}@example.org`,
        subject: `Standard ${n}`,
        text: 'Newsletter',
      });
      standard.push(body.id);
    }
    const before = await Promise.all(standard.map(statusOf));
    const waiting = before.filter((r) => r.status === 'queued').map((r) => r.id);
    expect(waiting.length).toBeGreaterThanOrEqual(2); // a backlog the emergency has to overtake

    const emergency = await post({
      to: 'all-families@example.org',
      subject: 'School closed today',
      text: 'Snow.',
      emergency: true,
    });
    expect(emergency.status).toBe(202);
    await waitForSink(5);

    const subjectOf = (id: string) => `Standard ${standard.indexOf(id) + 1}`;
    const started = standard.filter((id) => !waiting.includes(id));
    expect(sink.messages.map((m) => m.subject)).toEqual([
      ...started.map(subjectOf),
      'School closed today',
      ...waiting.map(subjectOf),
    ]);
    expect(await statusOf(emergency.body.id)).toMatchObject({ status: 'sent', kind: 'emergency' });
    expect(sink.messages[started.length]?.from).toBe(SENDER);
  });

  it('shows a 451 deferral as retrying, with its public error, then sent', async () => {
    await start({ settings: sinkSettings({ throttlePerSecond: 1, minutesBetweenRetries: 0 }) });
    sink.failNext('deferred@example.org', 451, 'Greylisted, try again later');
    const { status, body } = await post({
      to: 'deferred@example.org',
      subject: 'Report card',
      text: 'Ready.',
    });
    expect(status).toBe(202);

    // the retry waits for the throttle's next slot, about a second after the first attempt
    const retrying = await waitForStatus(body.id, 'retrying');
    expect(retrying.attempts).toBe(1);
    expect(retrying.lastError?.smtpCode).toBe(451);
    expect(retrying.lastError?.message).toContain('Greylisted, try again later');
    expect(Date.parse(retrying.nextAttemptAt ?? '')).not.toBeNaN();

    const sent = await waitForStatus(body.id, 'sent');
    expect(sent.attempts).toBe(2);
    expect(sent.history.map((step) => step.status)).toEqual([
      'queued',
      'sending',
      'retrying',
      'sending',
      'sent',
    ]);
    expect(sent.nextAttemptAt).toBeUndefined();
    expect(sink.messages.map((m) => m.to)).toEqual([['deferred@example.org']]);
  });

  it('refuses an invalid body with a readable message and queues nothing', async () => {
    await start({ settings: sinkSettings() });
    const good = { to: 'parent@example.org', subject: 'Attendance', text: 'Absent today.' };
    const cases: [unknown, string][] = [
      [{ subject: 'x', text: 'y' }, '"to" must be an email address or a non-empty list of email addresses'],
      [{ ...good, to: [] }, '"to" must be an email address or a non-empty list of email addresses'],
      [{ ...good, subject: ' ' }, '"subject" is required: a non-empty string'],
      [{ ...good, text: 42 }, '"text" is required: a non-empty string'],
      [{ ...good, emergency: 'yes' }, '"emergency" must be true or false'],
      [
        { ...good, from: 'boss@example.org' },
        'Unknown field "from": the fields are to, subject, text, html, emergency',
      ],
      [
        ['parent@example.org'],
        'The body must be a JSON object: { "to", "subject", "text", "html"?, "emergency"? }',
      ],
      // refused by the Mailer itself (InvalidMessageError)
      [{ ...good, to: 'not-an-address' }, 'to has an invalid address "not-an-address": use name@domain.tld'],
      [
        { ...good, subject: 'Hi\r\nBcc: everyone@example.org' },
        'subject must not contain a line break (CR or LF): it would let one header inject another',
      ],
    ];
    for (const [body, error] of cases) {
      const reply = await post(body);
      expect({ body, status: reply.status, answer: reply.body }).toEqual({
        body,
        status: 400,
        answer: { error },
      });
    }
    const broken = await request(
      `${app?.url}/messages`,
      'POST',
      '{"to": "a@example.org",',
      'application/json',
    );
    expect([broken.status, broken.body]).toEqual([400, { error: 'The body is not valid JSON' }]);
    const form = await request(
      `${app?.url}/messages`,
      'POST',
      'to=a@example.org',
      'application/x-www-form-urlencoded',
    );
    expect([form.status, form.body]).toEqual([
      415,
      { error: 'Send the message as JSON, with Content-Type: application/json' },
    ]);

    const health = await request<Record<string, unknown>>(`${app?.url}/health`, 'GET');
    expect(health.body).toEqual({
      configured: true,
      queued: 0,
      sending: 0,
      waitingRetry: 0,
      sent: 0,
      cancelled: 0,
    });
    expect(sink.messages).toHaveLength(0);
  });

  it('answers 503 while the settings are not valid, and logs what is wrong', async () => {
    await start({ settings: { defaultSenderAddress: SENDER, smtpHost: 'smtp://mail.example.org' } });
    const reply = await post({ to: 'parent@example.org', subject: 'Attendance', text: 'Absent today.' });
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('30');
    expect(reply.body).toEqual({
      error: 'Email is not configured on this server: an administrator must fix the Email Settings',
    });
    expect(logs.some((line) => line.startsWith('email settings: SMTP Host must not include a scheme'))).toBe(
      true,
    );
    const health = await request<{ configured: boolean }>(`${app?.url}/health`, 'GET');
    expect([health.status, health.body.configured]).toEqual([503, false]);
  });
});

describe('the Express example: settings', () => {
  it('takes the password from the environment, and refuses one in the settings file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'express-app-settings-'));
    try {
      const file = join(dir, 'settings.json');
      const fields = {
        defaultSenderAddress: SENDER,
        smtpHost: 'smtp.district.k12.us',
        smtpPort: 587,
        useTls: true,
        useAuthentication: true,
        username: 'mailer',
      };
      await writeFile(file, JSON.stringify(fields));
      const loaded = await loadSettings({ file, env: { SMTP_PASSWORD: 'Pa55word-from-env' } });
      expect(loaded.success).toBe(true);
      if (loaded.success) {
        expect(loaded.settings).toMatchObject({
          smtpPort: 587,
          username: 'mailer',
          password: 'Pa55word-from-env',
        });
        expect(JSON.stringify(loaded.settings)).not.toContain('Pa55word-from-env');
      }

      const noPassword = await loadSettings({ file, env: {} });
      expect(noPassword.success ? [] : noPassword.issues.map((issue) => issue.field)).toEqual(['password']);

      await writeFile(file, JSON.stringify({ ...fields, password: 'Pa55word-in-file' }));
      const inFile = await loadSettings({ file, env: { SMTP_PASSWORD: 'Pa55word-from-env' } });
      expect(inFile).toEqual({
        success: false,
        issues: [
          {
            field: '',
            message:
              'The settings JSON must not hold secrets: move password to SMTP_PASSWORD (environment variables)',
          },
        ],
      });

      const json = await loadSettings({
        env: { SETTINGS_JSON: JSON.stringify({ smtpHost: 'smtp.district.k12.us' }) },
      });
      expect(json.success ? [] : json.issues.map((issue) => issue.field)).toEqual(['defaultSenderAddress']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the Express example: shutdown', () => {
  it('drains the in-memory queue before closing, and leaves no open handle', async () => {
    await sleep(50); // let the previous test's sockets finish closing
    const baseline = handles();
    const started = await start({ settings: sinkSettings({ throttlePerSecond: 2 }), drainTimeoutMs: 10_000 });
    const ids: string[] = [];
    for (let n = 1; n <= 4; n += 1) {
      ids.push((await post({ to: `family${n}@example.org`, subject: `Notice ${n}`, text: 'Hello' })).body.id);
    }
    expect(sink.messages.length).toBeLessThan(4); // a backlog is waiting when the shutdown begins

    const closing = started.close();
    expect(started.close()).toBe(closing);
    await closing;
    app = undefined;

    expect(ids.map((id) => started.deliveries.get(id)?.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(sink.messages).toHaveLength(4);
    await expect(request(`${started.url}/health`, 'GET')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const after = await waitFor(
      'the sockets and timers to close',
      handles,
      (now) =>
        ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'].every(
          (kind) => (now[kind] ?? 0) <= (baseline[kind] ?? 0),
        ),
      5_000,
    );
    expect(after.TCPServerWrap ?? 0).toBe(baseline.TCPServerWrap ?? 0);
  });

  it('cancels what still waits in memory once the drain time is up', async () => {
    const started = await start({ settings: sinkSettings({ throttlePerSecond: 1 }), drainTimeoutMs: 0 });
    const ids: string[] = [];
    for (let n = 1; n <= 3; n += 1) {
      ids.push((await post({ to: `family${n}@example.org`, subject: `Notice ${n}`, text: 'Hello' })).body.id);
    }
    await waitForSink(1);
    await started.close();
    app = undefined;

    const records = ids.map((id) => started.deliveries.get(id));
    expect(records.map((r) => r?.status)).toEqual(['sent', 'cancelled', 'cancelled']);
    expect(records[1]).toMatchObject({ reason: 'closed', attempts: 0 });
    expect(sink.messages).toHaveLength(1);
    expect(logs).toContain('closing with 2 message(s) not sent yet: cancelled');
  });

  it('keeps what waits in the spool at shutdown, and the next start sends it', async () => {
    const spoolDir = await mkdtemp(join(tmpdir(), 'express-app-spool-'));
    try {
      const first = await start({ settings: sinkSettings({ throttlePerSecond: 1 }), spoolDir });
      const ids: string[] = [];
      for (let n = 1; n <= 3; n += 1) {
        ids.push(
          (await post({ to: `family${n}@example.org`, subject: `Notice ${n}`, text: 'Hello' })).body.id,
        );
      }
      await waitForSink(1);
      await first.close();
      app = undefined;
      expect(ids.map((id) => first.deliveries.get(id)?.status)).toEqual(['sent', 'queued', 'queued']);
      expect(logs).toContain(
        `closing with 2 message(s) not sent yet: kept in ${spoolDir} for the next start`,
      );
      expect(sink.messages).toHaveLength(1);

      const second = await start({ settings: sinkSettings({ throttlePerSecond: 1 }), spoolDir });
      expect(logs).toContain(`resumed 2 message(s) from ${spoolDir}`);
      await waitForSink(3);
      expect(sink.messages.map((m) => m.subject)).toEqual(['Notice 1', 'Notice 2', 'Notice 3']);
      await waitForStatus(ids[2] ?? '', 'sent');
      expect(await statusOf(ids[1] ?? '')).toMatchObject({ status: 'sent', resumed: true });
      expect(second.deliveries.get(ids[0] ?? '')).toBeUndefined(); // sent by the first process
    } finally {
      await app?.close();
      app = undefined;
      await rm(spoolDir, { recursive: true, force: true });
    }
  });
});
