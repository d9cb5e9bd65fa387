import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Mailer, type Transport } from '../src/index.js';

const USER = 'district-mailer';
const PASSWORD = 'S3cret pass/word&more';
const FORMS = [
  PASSWORD,
  encodeURIComponent(PASSWORD),
  new URLSearchParams({ p: PASSWORD }).toString().slice('p='.length),
  Buffer.from(`\u0000${USER}\u0000${PASSWORD}`).toString('base64'),
];

const settings = {
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: 'smtp.district.k12.us',
  useAuthentication: true,
  username: USER,
  password: PASSWORD,
  minutesBetweenRetries: 0,
  maxErrorsBeforeCancel: 1,
};
const message = { to: 'parent@example.org', subject: 'Attendance', text: 'x' };

const mailers: Mailer[] = [];
afterEach(async () => {
  for (const mailer of mailers.splice(0)) await mailer.close();
});

/** A Mailer whose transport rejects every send and verify with `thrown`. */
function failingWith(thrown: () => unknown): Mailer {
  const transport: Transport = {
    send: () => Promise.reject(thrown()),
    verify: () => Promise.reject(thrown()),
  };
  const mailer = new Mailer({ settings, transport: () => transport });
  mailers.push(mailer);
  return mailer;
}

function expectClean(value: unknown): void {
  const texts = [
    inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    JSON.stringify(value),
    value instanceof Error ? `${String(value)} ${value.stack}` : '',
  ];
  for (const text of texts) for (const form of FORMS) expect(text).not.toContain(form);
}

/** Sends one message and returns the rejection and every event about it. */
async function sendAndCollect(mailer: Mailer): Promise<{ rejection: unknown; events: unknown[] }> {
  const events: unknown[] = [];
  mailer.on('failed', (e) => events.push(e));
  mailer.on('cancelled', (e) => events.push(e));
  const rejection = await mailer.send(message).then(
    () => expect.unreachable('the send should fail'),
    (error: unknown) => error,
  );
  return { rejection, events };
}

const frozenAuthError = () =>
  Object.freeze(
    Object.assign(new Error(`Invalid login for ${USER}:${PASSWORD}`), {
      code: 'EAUTH',
      responseCode: 535,
      response: `535 ${encodeURIComponent(PASSWORD)} rejected`,
    }),
  );

describe('Mailer with a plugged-in transport that puts the password in its errors', () => {
  it('verify() hides it when the transport rejects with a string', async () => {
    const report = await failingWith(() => `login refused for ${PASSWORD}`).verify();
    expect(report).toMatchObject({ ok: false, stage: 'connect' });
    expectClean(report);
  });

  it('verify() hides it in a frozen error and still reads its code', async () => {
    const report = await failingWith(frozenAuthError).verify();
    expect(report).toMatchObject({ ok: false, stage: 'auth' });
    expectClean(report);
  });

  it('send() hides it in a frozen error, and a 550 reply stays permanent', async () => {
    const thrown = () =>
      Object.freeze(
        Object.assign(new Error(`550 mailbox ${PASSWORD} unavailable`), {
          code: 'EENVELOPE',
          responseCode: 550,
        }),
      );
    const { rejection, events } = await sendAndCollect(failingWith(thrown));
    expect(events[0]).toMatchObject({
      retryable: false,
      error: { code: 'EENVELOPE', responseCode: 550, message: '550 mailbox ******** unavailable' },
    });
    expect(rejection).toMatchObject({ code: 'DELIVERY_CANCELLED', reason: 'permanent' });
    expectClean(rejection);
    expectClean(events);
  });

  it('send() hides it in a rejected string, an AggregateError and nested, URL-encoded properties', async () => {
    const encoded = encodeURIComponent(PASSWORD);
    const values = [
      () => `socket closed after AUTH ${PASSWORD}`,
      () => new AggregateError([frozenAuthError(), new Error(`retry ${PASSWORD}`)], 'every host failed'),
      () =>
        Object.assign(new Error('Request failed with status code 401'), {
          code: 'ERR_BAD_REQUEST',
          details: { request: { body: `password=${encoded}` } },
          response: { config: { auth: { username: USER, password: PASSWORD } }, url: `/send?key=${encoded}` },
        }),
    ];
    for (const thrown of values) {
      const { rejection, events } = await sendAndCollect(failingWith(thrown));
      expectClean(rejection);
      expectClean(events);
    }
  });

  it('send() keeps the reply code of a plain object a transport rejects with', async () => {
    const thrown = () => ({ message: `550 rejected ${PASSWORD}`, code: 'EENVELOPE', responseCode: 550 });
    const { rejection, events } = await sendAndCollect(failingWith(thrown));
    expect(events[0]).toMatchObject({ retryable: false, error: { responseCode: 550 } });
    expect(rejection).toMatchObject({ reason: 'permanent' });
    expectClean(rejection);
    expectClean(events);
  });
});
