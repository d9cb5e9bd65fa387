import { inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DeliveryCancelledError, InvalidMessageError } from '../src/index.js';
import { scrubForeign, secretForms } from '../src/secrets.js';

const USER = 'district-mailer';
/** Has characters that each encoding writes differently: space, & + / @ : ! ' and a non-ASCII letter. */
const PASSWORD = "P@ss w/rd+&é!'x:1";
const SECRETS = secretForms(USER, PASSWORD);

const base64 = (text: string): string => Buffer.from(text).toString('base64');
const urlEncoded = encodeURIComponent(PASSWORD);
const formEncoded = new URLSearchParams({ p: PASSWORD }).toString().slice('p='.length);
const plusEncoded = encodeURIComponent(PASSWORD).replaceAll('%20', '+');
const userinfoUrl = new URL('https://smtp.district.k12.us/');
userinfoUrl.username = USER;
userinfoUrl.password = PASSWORD;

/** Every form of the password the package promises to hide, computed here rather than by the code under test. */
const FORMS: Record<string, string> = {
  plain: PASSWORD,
  urlEncoded,
  formEncoded,
  plusEncoded,
  userinfo: userinfoUrl.password,
  base64: base64(PASSWORD),
  authPlain: base64(`\u0000${USER}\u0000${PASSWORD}`),
};

/** Everything a person or a log can see of an error. */
function views(error: Error): Record<string, string> {
  return {
    string: String(error),
    message: error.message,
    stack: String(error.stack),
    inspect: inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    inspectGetters: inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true, getters: true }),
    json: JSON.stringify(error),
  };
}

/** Asserts that no form of the password shows in any view of `error`. */
function expectClean(error: Error): void {
  for (const [view, text] of Object.entries(views(error))) {
    for (const [form, secret] of Object.entries(FORMS)) {
      expect(text.includes(secret), `${form} form in ${view}: ${text}`).toBe(false);
    }
  }
}

function smtpError(message: string, props: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), props);
}

describe('secretForms', () => {
  it('has nothing to look for without a password', () => {
    expect(secretForms(USER, undefined)).toEqual([]);
    expect(secretForms(USER, '')).toEqual([]);
  });

  it('includes the password as it is, URL-encoded, form-encoded and as SMTP AUTH sends it', () => {
    for (const form of Object.values(FORMS)) expect(SECRETS).toContain(form);
  });

  it('lists each form once', () => {
    expect(new Set(secretForms(USER, 'plain'))).toHaveProperty('size', secretForms(USER, 'plain').length);
  });
});

describe('scrubForeign', () => {
  it('turns a rejected string into an Error without the password', () => {
    const error = scrubForeign(`535 Authentication failed for ${USER}:${PASSWORD}`, SECRETS);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe(`535 Authentication failed for ${USER}:********`);
    expectClean(error);
  });

  it('copies a frozen error it cannot scrub in place, keeping name, code, responseCode, command and response', () => {
    const original = Object.freeze(
      smtpError(`Invalid login: 535 ${PASSWORD}`, {
        code: 'EAUTH',
        responseCode: 535,
        command: `AUTH PLAIN ${FORMS.authPlain}`,
        response: `535 5.7.8 ${PASSWORD} rejected`,
      }),
    );
    const error = scrubForeign(original, SECRETS);
    expect(error).not.toBe(original);
    expect(error).toMatchObject({
      name: 'Error',
      message: 'Invalid login: 535 ********',
      code: 'EAUTH',
      responseCode: 535,
      command: 'AUTH PLAIN ********',
      response: '535 5.7.8 ******** rejected',
    });
    expect(error.stack).toContain('Invalid login: 535 ********');
    expect(error.stack).toContain('secrets.test.ts'); // the transport's own frames are kept
    expectClean(error);
  });

  it('copies a sealed error, and one whose message is not writable', () => {
    const sealed = Object.seal(smtpError(`bad ${PASSWORD}`, { code: 'EAUTH', responseCode: 535 }));
    const readOnly = smtpError('placeholder', { code: 'EAUTH', responseCode: 535 });
    Object.defineProperty(readOnly, 'message', { value: `bad ${PASSWORD}`, writable: false });
    for (const original of [sealed, readOnly]) {
      const error = scrubForeign(original, SECRETS);
      expect(error.message).toBe('bad ********');
      expect(error).toMatchObject({ code: 'EAUTH', responseCode: 535 });
      expectClean(error);
    }
  });

  it('hides an error whose whole message is the password', () => {
    const error = scrubForeign(smtpError(PASSWORD, { code: 'EAUTH' }), SECRETS);
    expect(error.message).toBe('********');
    expect(error).toMatchObject({ code: 'EAUTH' });
    expectClean(error);
  });

  it('never changes what it was given: the transport keeps its own objects and credentials', () => {
    const config = { auth: { username: USER, password: PASSWORD } };
    const original = smtpError(`failed with ${PASSWORD}`, { code: 'EAUTH', response: { config } });
    scrubForeign(original, SECRETS);
    expect(original.message).toBe(`failed with ${PASSWORD}`);
    expect(config.auth.password).toBe(PASSWORD);
  });

  it('scrubs every error of an AggregateError and keeps its kind and each code', () => {
    const original = new AggregateError(
      [
        smtpError(`first ${PASSWORD}`, { code: 'EAUTH', responseCode: 535 }),
        Object.freeze(smtpError(`second ${urlEncoded}`, { code: 'ECONNECTION' })),
        `a string ${formEncoded}`,
      ],
      `all failed: ${PASSWORD}`,
    );
    const error = scrubForeign(original, SECRETS) as AggregateError;
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.message).toBe('all failed: ********');
    expect(error.errors).toHaveLength(3);
    expect(error.errors[0]).toMatchObject({ message: 'first ********', code: 'EAUTH', responseCode: 535 });
    expect(error.errors[1]).toMatchObject({ message: 'second ********', code: 'ECONNECTION' });
    expect(error.errors[2]).toBe('a string ********');
    expectClean(error);
  });

  it('scrubs nested objects and arrays an HTTP transport attaches', () => {
    const original = smtpError('Request failed with status code 401', {
      code: 'ERR_BAD_REQUEST',
      responseCode: 401,
      details: { request: { body: `user=${USER}&password=${formEncoded}`, tries: [[`pw ${plusEncoded}`]] } },
      response: {
        status: 401,
        config: {
          url: `https://api.example/send?key=${urlEncoded}`,
          auth: { username: USER, password: PASSWORD },
        },
      },
    });
    const error = scrubForeign(original, SECRETS);
    expect(error).toMatchObject({
      code: 'ERR_BAD_REQUEST',
      responseCode: 401,
      details: { request: { body: `user=${USER}&password=********`, tries: [['pw ********']] } },
      response: {
        status: 401,
        config: {
          url: 'https://api.example/send?key=********',
          auth: { username: USER, password: '********' },
        },
      },
    });
    expectClean(error);
  });

  it('scrubs Map and Set contents, keys included', () => {
    const original = smtpError('failed', {
      code: 'EAUTH',
      headers: new Map<unknown, unknown>([
        ['authorization', `Basic ${PASSWORD}`],
        [PASSWORD, 'as a key'],
      ]),
      tried: new Set([PASSWORD, 'other']),
    });
    const error = scrubForeign(original, SECRETS) as Error & {
      headers: Map<string, string>;
      tried: Set<string>;
    };
    expect([...error.headers]).toEqual([
      ['authorization', 'Basic ********'],
      ['********', 'as a key'],
    ]);
    expect([...error.tried]).toEqual(['********', 'other']);
    expect(error).toMatchObject({ code: 'EAUTH' });
    expectClean(error);
  });

  it('writes URL and URLSearchParams values as scrubbed text', () => {
    const original = smtpError('failed', {
      code: 'ECONNECTION',
      url: new URL(userinfoUrl.href),
      form: new URLSearchParams({ user: USER, password: PASSWORD }),
    });
    const error = scrubForeign(original, SECRETS);
    expect(error).toMatchObject({
      code: 'ECONNECTION',
      url: `https://${USER}:********@smtp.district.k12.us/`,
      form: `user=${USER}&password=********`,
    });
    expectClean(error);
  });

  it('scrubs the password out of bytes', () => {
    const original = smtpError('failed', { code: 'EPROTOCOL', body: Buffer.from(`password=${PASSWORD}`) });
    const error = scrubForeign(original, SECRETS) as Error & { body: Uint8Array };
    expect(Buffer.from(error.body).toString()).toBe('password=********');
    expectClean(error);
  });

  it('finds the base64 forms SMTP AUTH PLAIN and LOGIN send', () => {
    const original = smtpError(`AUTH PLAIN ${FORMS.authPlain} then ${FORMS.base64}`, { code: 'EAUTH' });
    expect(scrubForeign(original, SECRETS).message).toBe('AUTH PLAIN ******** then ********');
  });

  it('survives cycles, in properties and in the cause chain', () => {
    const first = smtpError(`first ${PASSWORD}`, { code: 'EAUTH' }) as Error & Record<string, unknown>;
    const second = smtpError(`second ${PASSWORD}`, { code: 'ECONNECTION', cause: first });
    first.self = first;
    first.details = { parent: first, list: [first] };
    first.cause = second;
    const error = scrubForeign(first, SECRETS);
    expect(error).toMatchObject({
      code: 'EAUTH',
      cause: { code: 'ECONNECTION', message: 'second ********' },
    });
    expectClean(error);
  });

  it('keeps an object reached twice without a cycle', () => {
    const shared = { password: PASSWORD };
    const error = scrubForeign(smtpError('failed', { a: shared, b: shared }), SECRETS);
    expect(error).toMatchObject({ a: { password: '********' }, b: { password: '********' } });
  });

  it('stops at a depth and a size that a log can hold, without throwing', () => {
    let deep: Record<string, unknown> = { password: PASSWORD };
    for (let i = 0; i < 10_000; i += 1) deep = { next: deep };
    const wide = Array.from({ length: 100_000 }, () => ({ password: PASSWORD }));
    const error = scrubForeign(smtpError('failed', { code: 'EAUTH', deep, wide }), SECRETS);
    expect(error).toMatchObject({ code: 'EAUTH' });
    expectClean(error);
    expect(JSON.stringify(error).length).toBeLessThan(1_000_000);
  });

  it('keeps a scrubbed cause chain with each code and reply code', () => {
    const root = Object.freeze(smtpError(`socket said ${PASSWORD}`, { code: 'ESOCKET' }));
    const middle = new Error(`login as ${USER}:${urlEncoded}`, { cause: root });
    const top = Object.freeze(
      smtpError(`Invalid login ${PASSWORD}`, { code: 'EAUTH', responseCode: 535, cause: middle }),
    );
    const error = scrubForeign(top, SECRETS);
    expect(error).toMatchObject({
      code: 'EAUTH',
      responseCode: 535,
      cause: {
        message: `login as ${USER}:********`,
        cause: { code: 'ESOCKET', message: 'socket said ********' },
      },
    });
    expect(error.cause).toBeInstanceOf(Error);
    expectClean(error);
  });

  it('skips getters that throw and scrubs getters that return the password', () => {
    const original = smtpError('failed', { code: 'EAUTH', responseCode: 535 });
    Object.defineProperty(original, 'broken', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    Object.defineProperty(original, 'secret', { enumerable: true, get: () => `pw ${PASSWORD}` });
    const error = scrubForeign(original, SECRETS);
    expect(error).toMatchObject({ code: 'EAUTH', responseCode: 535, secret: 'pw ********' });
    expect(error).not.toHaveProperty('broken');
    expectClean(error);
  });

  it('hides non-enumerable and symbol-keyed properties, and hooks that would show the password', () => {
    const original = smtpError('failed', { code: 'EAUTH' });
    Object.defineProperty(original, 'hidden', { value: `pw ${PASSWORD}`, enumerable: false });
    Object.assign(original, {
      [Symbol('credentials')]: PASSWORD,
      [inspect.custom]: () => PASSWORD,
      toJSON: () => ({ password: PASSWORD }),
      toString: () => PASSWORD,
    });
    const error = scrubForeign(original, SECRETS);
    expect(error).toMatchObject({ code: 'EAUTH' });
    expectClean(error);
  });

  it('does not use the hooks of a foreign error class, and keeps its name', () => {
    class HttpError extends Error {
      override name = 'HttpError';
      readonly code = 'ERR_BAD_REQUEST';
      get url(): string {
        return `https://api.example/?key=${urlEncoded}`;
      }
      toJSON(): object {
        return { password: PASSWORD };
      }
      [inspect.custom](): string {
        return PASSWORD;
      }
      override toString(): string {
        return PASSWORD;
      }
    }
    const error = scrubForeign(new HttpError(`failed: ${PASSWORD}`), SECRETS);
    expect(error).toMatchObject({ name: 'HttpError', code: 'ERR_BAD_REQUEST', message: 'failed: ********' });
    expect(error).not.toBeInstanceOf(HttpError);
    expectClean(error);
  });

  it('copies an error from another realm as an error, with its message and code', () => {
    const foreign = runInNewContext('Object.assign(new Error(message), { code: "EAUTH" })', {
      message: `vm ${PASSWORD}`,
    }) as Error;
    const error = scrubForeign(smtpError('failed', { cause: foreign }), SECRETS);
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.cause).toMatchObject({ message: 'vm ********', code: 'EAUTH' });
    expectClean(error);
  });

  it('keeps the class of the package’s own errors', () => {
    const cause = smtpError(`login ${PASSWORD}`, { code: 'EAUTH', responseCode: 535 });
    const original = new DeliveryCancelledError('Gave up after 3 attempts', 3, 'max-errors', cause);
    const error = scrubForeign(original, SECRETS);
    expect(error).toBeInstanceOf(DeliveryCancelledError);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: 'DeliveryCancelledError', attempts: 3 });
    expect(error).toMatchObject({ code: 'DELIVERY_CANCELLED', cause: { code: 'EAUTH', responseCode: 535 } });
    expectClean(error);
    expect(scrubForeign(new InvalidMessageError('x'), SECRETS)).toBeInstanceOf(InvalidMessageError);
  });

  it('never throws, even for a Proxy whose every trap throws', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error(PASSWORD);
        },
        getPrototypeOf() {
          throw new Error(PASSWORD);
        },
        ownKeys() {
          throw new Error(PASSWORD);
        },
        getOwnPropertyDescriptor() {
          throw new Error(PASSWORD);
        },
        has() {
          throw new Error(PASSWORD);
        },
      },
    );
    const error = scrubForeign(hostile, SECRETS);
    expect(error).toBeInstanceOf(Error);
    expectClean(error);
    const revocable = Proxy.revocable(new Error('x'), {});
    revocable.revoke();
    expect(scrubForeign(revocable.proxy, SECRETS)).toBeInstanceOf(Error);
    expect(scrubForeign(smtpError('failed', { nested: hostile }), SECRETS)).toBeInstanceOf(Error);
  });

  it('scrubs a Proxy that answers every property with the password', () => {
    const liar = new Proxy(new Error('x'), { get: () => PASSWORD });
    const error = scrubForeign(liar, SECRETS);
    expectClean(error);
  });

  it('keeps code and responseCode of a plain object a transport rejected with', () => {
    const error = scrubForeign(
      { message: `Invalid login ${PASSWORD}`, code: 'EAUTH', responseCode: 535, auth: { pass: PASSWORD } },
      SECRETS,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      message: 'Invalid login ********',
      code: 'EAUTH',
      responseCode: 535,
      auth: { pass: '********' },
    });
    expectClean(error);
  });

  it('describes other values by their text', () => {
    expect(scrubForeign(null, SECRETS).message).toBe('null');
    expect(scrubForeign(undefined, SECRETS).message).toBe('undefined');
    expect(scrubForeign(42, SECRETS).message).toBe('42');
    expect(scrubForeign(Symbol(PASSWORD), SECRETS).message).toBe('Symbol(********)');
    const noPrototype = Object.assign(Object.create(null) as object, { code: 'EAUTH' });
    expect(scrubForeign(noPrototype, SECRETS)).toMatchObject({ code: 'EAUTH' });
    const throwingText = {
      toString() {
        throw new Error(PASSWORD);
      },
    };
    expectClean(scrubForeign(throwingText, SECRETS));
  });

  it('copies an error even without a password to look for, so that its readers never run foreign code', () => {
    const original = smtpError('Connection refused', { code: 'ECONNREFUSED' });
    Object.defineProperty(original, 'responseCode', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    const error = scrubForeign(original, []);
    expect(error).toMatchObject({ message: 'Connection refused', code: 'ECONNREFUSED' });
    expect(() => JSON.stringify(error)).not.toThrow();
    expect(Object.keys(error)).toEqual(['code']);
  });
});
