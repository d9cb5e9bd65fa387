import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidMessageError,
  Mailer,
  MailerClosedError,
  type MailMessage,
  NotConfiguredError,
  type SendOptions,
} from '../src/index.js';
import { checkMessage } from '../src/message.js';
import { type Harness, startHarness } from './support/harness.js';

const TO = 'parent@example.org';
const base: MailMessage = { to: TO, subject: 'Attendance', text: 'Hello' };

let harness: Harness | undefined;
const mailers: Mailer[] = [];

async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  harness = await startHarness(options);
  return harness;
}

afterEach(async () => {
  await harness?.close();
  harness = undefined;
  for (const mailer of mailers.splice(0)) await mailer.close();
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected send to reject');
    },
    (error: unknown) => error as Error,
  );
}

function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** Asserts that the message was refused before anything reached the server or the queue. */
function expectNothingSent(h: Harness): void {
  expect(h.sink.connections).toBe(0);
  expect(h.sink.messages).toEqual([]);
  expect(h.of('queued')).toEqual([]);
  expect(h.of('sending')).toEqual([]);
}

describe('Mailer.send input validation', () => {
  it('rejects a message without any recipient with InvalidMessageError', async () => {
    const h = await start();
    const error = await rejection(h.mailer.send({ to: [], subject: 'Nobody' }));

    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE', name: 'InvalidMessageError' });
    expect(error.message).toContain('no recipient');
    expectNothingSent(h);
  });

  it('rejects a message whose recipient fields are all blank', () => {
    const error = thrownBy(() => checkMessage({ to: '', cc: [' '], bcc: [], subject: 's' }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
  });

  it.each<[string, Partial<MailMessage>]>([
    ['to', { to: 'not-an-address' }],
    ['to', { to: [TO, 'parent@'] }],
    ['cc', { cc: 'teacher@@example.org' }],
    ['cc', { cc: ['Ms Smith <smith>'] }],
    ['bcc', { bcc: 'office@example' }],
    ['bcc', { bcc: `${TO}, broken@` }],
  ])('rejects an invalid address in %s: %j', async (field, change) => {
    const h = await start();
    const error = await rejection(h.mailer.send({ ...base, ...change }));

    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(error.message).toContain(`${field} has an invalid address`);
    expectNothingSent(h);
  });

  it("accepts 'Name <address>' and comma-separated lists and delivers to every envelope recipient", async () => {
    const h = await start();
    const report = await h.mailer.send({
      to: 'Ann Parent <ann@example.org>, bob@example.org',
      cc: ['Carol Teacher <carol@example.org>', 'dave@example.org, erin@example.org'],
      subject: 'Field trip',
      text: 'Hello',
    });

    const all = [
      'ann@example.org',
      'bob@example.org',
      'carol@example.org',
      'dave@example.org',
      'erin@example.org',
    ];
    expect(report.accepted).toEqual(all);
    expect(h.sink.messages).toHaveLength(1);
    expect(h.sink.messages[0]?.to).toEqual(all);
    const headers = h.sink.messages[0]?.headers;
    expect(headers?.get('to')).toContain('Ann Parent');
    expect(headers?.get('to')).toContain('<ann@example.org>');
    expect(headers?.get('to')).toContain('bob@example.org');
    expect(headers?.get('cc')).toContain('Carol Teacher');
    expect(headers?.get('cc')).toContain('erin@example.org');
    expect(h.of('queued')[0]?.recipients).toEqual(all);
  });

  it('puts bcc recipients in the envelope but not in the headers', async () => {
    const h = await start();
    await h.mailer.send({ ...base, bcc: ['Principal <principal@example.org>', 'counselor@example.org'] });

    const received = h.sink.messages[0];
    expect(received?.to).toEqual([TO, 'principal@example.org', 'counselor@example.org']);
    expect(received?.headers.has('bcc')).toBe(false);
    const raw = received?.raw.toString('utf8') ?? '';
    expect(raw).not.toContain('principal@example.org');
    expect(raw).not.toContain('counselor@example.org');
    expect(raw).not.toContain('Principal');
  });

  it('sends a message with only bcc recipients', async () => {
    const h = await start();
    await h.mailer.send({ to: [], bcc: 'hidden@example.org', subject: 'Quiet', text: 'x' });
    expect(h.sink.messages[0]?.to).toEqual(['hidden@example.org']);
    expect(h.sink.messages[0]?.raw.toString('utf8')).not.toContain('hidden@example.org');
  });

  it.each(['Attendance\r\nBcc: evil@example.org', 'Attendance\nBcc: evil@example.org', 'Attendance\r'])(
    'rejects a subject with CR or LF: %j',
    async (subject) => {
      const h = await start();
      const error = await rejection(h.mailer.send({ ...base, subject }));

      expect(error).toBeInstanceOf(InvalidMessageError);
      expect(error.message).toContain('subject must not contain a line break');
      expectNothingSent(h);
      expect(h.sink.attempts.has('evil@example.org')).toBe(false);
    },
  );

  it('rejects a header value with CRLF, so no header can be injected', async () => {
    const h = await start();
    const error = await rejection(
      h.mailer.send({ ...base, headers: { 'X-Campus-Note': 'ok\r\nBcc: evil@example.org' } }),
    );

    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(error.message).toContain('X-Campus-Note');
    expect(error.message).toContain('line break');
    expectNothingSent(h);
  });

  it('rejects a line break in a recipient name', async () => {
    const h = await start();
    const error = await rejection(
      h.mailer.send({ ...base, to: 'Ann\r\nBcc: evil@example.org <ann@example.org>' }),
    );
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('to must not contain a line break');
    expectNothingSent(h);
  });

  it('delivers a well-formed custom header', async () => {
    const h = await start();
    await h.mailer.send({ ...base, headers: { 'X-Campus-Note': 'weekly digest' } });
    expect(h.sink.messages[0]?.headers.get('x-campus-note')).toBe('weekly digest');
  });

  it.each([
    ['From', 'customSender'],
    ['Sender', 'customSender'],
    ['To', 'use the to field'],
    ['cc', 'use the cc field'],
    ['BCC', 'use the bcc field'],
    ['Subject', 'use the subject field'],
    ['Reply-To', 'use the replyTo field'],
  ])('rejects a header named %s and says to %s', async (name, advice) => {
    const h = await start();
    const error = await rejection(h.mailer.send({ ...base, headers: { [name]: 'someone@example.org' } }));

    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain(`Header "${name}" cannot be set in headers`);
    expect(error.message).toContain(advice);
    expectNothingSent(h);
  });

  it('rejects a header name that is not a header token', () => {
    const error = thrownBy(() => checkMessage({ ...base, headers: { 'X Bad:Name': 'v' } }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('Header name "X Bad:Name" is not valid');
  });

  it('rejects an attachment with both content and path', async () => {
    const h = await start({ settings: { allowAttachments: true } });
    const error = await rejection(
      h.mailer.send({
        ...base,
        attachments: [{ filename: 'both.txt', content: 'x', path: '/tmp/both.txt' }],
      }),
    );

    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toBe('Attachment both.txt needs exactly one of content and path');
    expectNothingSent(h);
  });

  it('rejects an attachment with neither content nor path', () => {
    const error = thrownBy(() => checkMessage({ ...base, attachments: [{ filename: 'empty.txt' }] }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toBe('Attachment empty.txt needs exactly one of content and path');
  });

  it('rejects an attachment without a filename', () => {
    const error = thrownBy(() => checkMessage({ ...base, attachments: [{ filename: ' ', content: 'x' }] }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toBe('Attachment 1 needs a filename');
  });

  it('rejects a replyTo with more than one address', () => {
    const error = thrownBy(() => checkMessage({ ...base, replyTo: 'a@example.org, b@example.org' }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toBe('replyTo must be one address');
  });

  it('rejects an unknown kind', async () => {
    const h = await start();
    const error = await rejection(h.mailer.send(base, { kind: 'urgent' } as unknown as SendOptions));

    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain("kind must be 'standard' or 'emergency'");
    expectNothingSent(h);
  });

  it('rejects an id that is already pending, and accepts it again once the first is delivered', async () => {
    const h = await start();
    const first = h.mailer.send(base, { id: 'weekly-1' });
    const second = h.mailer.send({ ...base, subject: 'Other' }, { id: 'weekly-1' });

    const error = await rejection(second);
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('"weekly-1" is already pending');
    expect((await first).id).toBe('weekly-1');
    expect(h.of('queued').map((e) => e.id)).toEqual(['weekly-1']);

    const again = await h.mailer.send({ ...base, subject: 'Again' }, { id: 'weekly-1' });
    expect(again.id).toBe('weekly-1');
    expect(h.sink.messages.map((m) => m.subject)).toEqual(['Attendance', 'Again']);
  });

  it('rejects send before the Mailer is configured with NotConfiguredError', async () => {
    const mailer = new Mailer();
    mailers.push(mailer);
    expect(mailer.configured).toBe(false);
    const error = await rejection(mailer.send(base));

    expect(error).toBeInstanceOf(NotConfiguredError);
    expect(error).toMatchObject({ code: 'NOT_CONFIGURED' });
  });

  it('rejects send after close with MailerClosedError', async () => {
    const h = await start();
    await h.mailer.close();
    const error = await rejection(h.mailer.send(base));

    expect(error).toBeInstanceOf(MailerClosedError);
    expect(error).toMatchObject({ code: 'MAILER_CLOSED' });
    expectNothingSent(h);
  });

  it('does not cause an unhandled rejection when the promise of a cancelled message is ignored', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const h = await start();
      h.sink.failNext(TO, { type: 'rcpt', code: 550 });
      const cancelled = new Promise((resolve) => h.mailer.once('cancelled', resolve));

      // fire and forget: nobody handles this promise
      h.mailer.send(base, { id: 'ignored' });
      expect(await cancelled).toMatchObject({ id: 'ignored', reason: 'permanent' });

      // let Node report unhandled rejections, if any
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('checkMessage', () => {
  it('parses recipients into mailboxes and bare addresses', () => {
    const checked = checkMessage({
      to: 'Ann Parent <ann@example.org>, bob@example.org',
      cc: 'carol@example.org',
      bcc: ['dan@example.org'],
      subject: '',
    });
    expect(checked.to).toEqual(['"Ann Parent" <ann@example.org>', 'bob@example.org']);
    expect(checked.cc).toEqual(['carol@example.org']);
    expect(checked.bcc).toEqual(['dan@example.org']);
    expect(checked.recipients).toEqual([
      'ann@example.org',
      'bob@example.org',
      'carol@example.org',
      'dan@example.org',
    ]);
    expect(checked.subject).toBe('');
  });

  it('allows line breaks in the body text and html', () => {
    const checked = checkMessage({ ...base, text: 'line 1\r\nline 2', html: '<p>a</p>\n<p>b</p>' });
    expect(checked.text).toBe('line 1\r\nline 2');
    expect(checked.html).toBe('<p>a</p>\n<p>b</p>');
  });
});
