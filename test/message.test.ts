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
import { thrownBy } from './support/thrown.js';

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

describe('checkMessage MIME headers', () => {
  it.each([
    'Content-Type',
    'content-transfer-encoding',
    'Content-Disposition',
    'CONTENT-ID',
    'Content-Language',
    'MIME-Version',
    'mime-version',
  ])('refuses a %s header, which would corrupt the MIME structure, and says what to use', (name) => {
    const error = thrownBy(() => checkMessage({ ...base, headers: { [name]: 'text/html; charset=utf-8' } }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(error.message).toContain(`Header "${name}" cannot be set in headers`);
    expect(error.message).toContain('html');
    expect(error.message).toContain('attachments');
    expect(error.message).toContain('contentType');
  });

  it('refuses a Content-Type header before anything is queued or sent', async () => {
    const h = await start();
    const error = await rejection(h.mailer.send({ ...base, headers: { 'Content-Type': 'text/html' } }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expectNothingSent(h);
  });
});

describe('checkMessage Message-ID', () => {
  it.each([
    ['Message-ID', 'alert-42@district.k12.us', '<alert-42@district.k12.us>'],
    ['message-id', '<alert-42@district.k12.us>', '<alert-42@district.k12.us>'],
    ['MESSAGE-ID', ' \t<alert-42@district.k12.us>  ', '<alert-42@district.k12.us>'],
    ['Message-Id', "a.b!#$%&'*+/=?^_`{|}~-c@x.y-z", "<a.b!#$%&'*+/=?^_`{|}~-c@x.y-z>"],
    ['Message-ID', 'alert.42@[10.0.0.7]', '<alert.42@[10.0.0.7]>'],
    ['Message-ID', '<1@[IPv6:2001:db8::1]>', '<1@[IPv6:2001:db8::1]>'],
  ])('accepts %s %j and writes it as %j under Message-ID', (name, value, wire) => {
    const checked = checkMessage({ ...base, headers: { 'X-Campus-Note': 'n', [name]: value } });
    expect(checked.headers).toEqual({ 'X-Campus-Note': 'n', 'Message-ID': wire });
  });

  it.each([
    ['empty', ''],
    ['blank', ' '],
    ['empty brackets', '<>'],
    ['blank brackets', '< >'],
    ['no @', 'abc'],
    ['one bracket', '<abc@x.org'],
    ['closing bracket only', 'abc@x.org>'],
    ['a space inside', '<a b@x.org>'],
    ['two dots', 'a..b@x.org'],
    ['a leading dot', '.a@x.org'],
    ['no left part', '@x.org'],
    ['no right part', 'a@'],
    ['two @', 'a@b@x.org'],
    ['two ids', '<a@x.org> <b@x.org>'],
    ['a comment', '(note) <a@x.org>'],
    ['text after a literal', '<a@[10.0.0.1]x>'],
    ['a backslash in a literal', 'a@[x\\y]'],
    ['non-ASCII', 'ä@x.org'],
    ['a control character', 'a\u0000@x.org'],
    ['too long for one header line', `${'m'.repeat(980)}@x.org`],
  ])('refuses a Message-ID that is %s', (_case, value) => {
    const error = thrownBy(() => checkMessage({ ...base, headers: { 'Message-ID': value } }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(error.message).toContain('Header "Message-ID"');
    expect(error.message).toContain('such as <');
    expect(error.message.length).toBeLessThan(400);
  });

  it('refuses two Message-ID headers that differ only in capitalisation', () => {
    const error = thrownBy(() =>
      checkMessage({ ...base, headers: { 'Message-ID': '<a@x.org>', 'message-id': '<b@x.org>' } }),
    );
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('more than once');
  });

  it('refuses an empty Message-ID before anything is queued, instead of a new id on each attempt', async () => {
    const h = await start();
    const error = await rejection(h.mailer.send({ ...base, headers: { 'Message-ID': '' } }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expectNothingSent(h);
  });
});

describe('checkMessage line length', () => {
  const longWord = 'n'.repeat(1100);

  it.each<[string, Partial<MailMessage>]>([
    ['to', { to: `"${longWord}" <ann@example.org>` }],
    ['cc', { cc: [`${longWord} <ann@example.org>`] }],
    ['replyTo', { replyTo: `"Office ${longWord}" <office@example.org>` }],
  ])('refuses a display name in %s with a word too long to fold within 998 octets', (field, change) => {
    const error = thrownBy(() => checkMessage({ ...base, ...change }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain(
      `${field} has a display name with a word too long for one mail header line (1,1`,
    );
    expect(error.message).toContain('998');
    expect(error.message.length).toBeLessThan(400);
  });

  it('accepts a long display name with spaces, or with non-ASCII letters that are encoded', () => {
    const spaced = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    const checked = checkMessage({
      ...base,
      to: [`"${spaced}" <ann@example.org>`, `"${'ñ'.repeat(1100)}" <bob@example.org>`],
    });
    expect(checked.recipients).toEqual(['ann@example.org', 'bob@example.org']);
  });

  it('refuses a header name longer than 76 characters', () => {
    const name = `X-${'N'.repeat(75)}`;
    const error = thrownBy(() => checkMessage({ ...base, headers: { [name]: 'v' } }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('at most 76 characters');
    expect(() => checkMessage({ ...base, headers: { [`X-${'N'.repeat(74)}`]: 'v' } })).not.toThrow();
  });

  it.each(['In-Reply-To', 'References'])(
    'refuses a %s value with a word too long for one header line',
    (name) => {
      const error = thrownBy(() =>
        checkMessage({ ...base, headers: { [name]: `<${'r'.repeat(1000)}@district.k12.us>` } }),
      );
      expect(error).toBeInstanceOf(InvalidMessageError);
      expect(error.message).toContain(`Header "${name}"`);
      expect(error.message).toContain('998');
    },
  );

  it.each([
    ['2,000 characters without a slash', 'x'.repeat(2000)],
    ['no subtype', 'text'],
    ['an empty subtype', 'text/'],
    ['an empty type', '/plain'],
    ['two slashes', 'text/plain/x'],
    ['a subtype over 127 characters', `application/${'x'.repeat(200)}`],
    ['a parameter too long for one header line', `text/plain; ${'p'.repeat(1000)}=1`],
  ])('refuses an attachment contentType that is not a MIME type: %s', (_case, contentType) => {
    const error = thrownBy(() =>
      checkMessage({ ...base, attachments: [{ filename: 'a.txt', content: 'x', contentType }] }),
    );
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('contentType must be a MIME type such as application/pdf');
    expect(error.message.length).toBeLessThan(400);
  });

  it.each([
    'application/pdf',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'image/svg+xml',
    'text/plain; charset=utf-8',
    'text/csv;charset="utf-8"; header=present',
  ])('accepts the attachment contentType %s', (contentType) => {
    expect(() =>
      checkMessage({ ...base, attachments: [{ filename: 'a.txt', content: 'x', contentType }] }),
    ).not.toThrow();
  });
});

describe('checkMessage error messages quote what they were given briefly', () => {
  const huge = 'a'.repeat(5_000_000);

  it('shortens a huge invalid address to a few dozen characters and says how long it was', () => {
    const error = thrownBy(() => checkMessage({ ...base, to: `${huge}@` }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('to has an invalid address "aaaa');
    expect(error.message).toContain('(5,000,001 characters)');
    expect(error.message.length).toBeLessThan(400);
  });

  it('shortens a huge header name that is not a header token', () => {
    const error = thrownBy(() => checkMessage({ ...base, headers: { [`X Bad ${huge}`]: 'v' } }));
    expect(error.message).toContain('Header name "X Bad aaa');
    expect(error.message).toContain('(5,000,006 characters)');
    expect(error.message.length).toBeLessThan(400);
  });

  it('shortens a huge header name that is a header token', () => {
    const error = thrownBy(() => checkMessage({ ...base, headers: { [`X-${huge}`]: 'v' } }));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('(5,000,002 characters)');
    expect(error.message.length).toBeLessThan(400);
  });

  it('shortens a huge attachment file name', () => {
    const error = thrownBy(() => checkMessage({ ...base, attachments: [{ filename: huge }] }));
    expect(error.message).toContain('needs exactly one of content and path');
    expect(error.message).toContain('(5,000,000 characters)');
    expect(error.message.length).toBeLessThan(400);
  });

  it('shows control and direction-changing characters as escapes, never raw', () => {
    const error = thrownBy(() => checkMessage({ ...base, to: 'evil\u0007\u202e\u0000@' }));
    expect(error.message).toContain('"evil\\u202e@"');
    expect(error.message).not.toMatch(/[\p{Cc}\u202e]/u);
  });
});
