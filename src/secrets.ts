/**
 * Keeps the SMTP password out of everything the package returns. A transport (nodemailer or a plugged-in one)
 * may fail with any value: a string, a frozen error, an AggregateError, an object carrying the request it sent.
 * The package never shows that value itself: {@link scrubForeign} builds a new Error from it with every form of
 * the password replaced, and leaves the value it was given as it is.
 */
import { types } from 'node:util';
import { MailerError } from './errors.js';
import { normalizePrivateKey } from './settings/oauth-fields.js';

/** What replaces the password, as in `redactSettings`. */
const MASK = '********';
/** Levels of nesting kept in a copy; deeper objects become {@link TRUNCATED}. */
const MAX_DEPTH = 10;
/** Objects copied from one foreign value; the rest become {@link TRUNCATED}. */
const MAX_OBJECTS = 1000;
/** Items, entries or properties copied from one array, Map, Set or object; the rest become one {@link TRUNCATED}. */
const MAX_ENTRIES = 1000;
const TRUNCATED = '[Truncated]';
const CIRCULAR = '[Circular]';
const UNREADABLE = '[Unreadable]';
/** The message of an error built from a value whose text could not be read. */
const UNREADABLE_MESSAGE = 'The transport failed with a value that could not be read';
/** Marks a value left out of a copy: a function, or a getter that threw. */
const OMIT = Symbol('omit');

/** Errors whose prototype a copy may keep: their methods show only the copy's own (scrubbed) properties. */
const BUILT_IN_ERRORS = new Set<object>(
  [Error, TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError, AggregateError].map(
    (kind) => kind.prototype,
  ),
);

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/** The password as the WHATWG URL parser writes it in `https://user:password@host`. */
function userinfoForm(password: string): string {
  const url = new URL('http://localhost/');
  url.password = password;
  return url.password;
}

/**
 * Every form of the password that could show up in a transport's error: as typed; URL-encoded (in a URL or
 * query, also the RFC 3986 form that escapes `!'()*`, and the userinfo of `https://user:password@host`);
 * form-encoded (`+` for spaces, as `URLSearchParams` or `qs` write a form body); and base64, as SMTP AUTH LOGIN
 * and AUTH PLAIN send it.
 *
 * @param username - the SMTP Username, part of the AUTH PLAIN forms
 * @param password - the SMTP Password; none or empty: nothing to look for
 * @returns each form once
 */
export function secretForms(username: string | undefined, password: string | undefined): string[] {
  if (password === undefined || password === '') return [];
  const user = username ?? '';
  const uri = encodeURIComponent(password);
  const formEncoded = new URLSearchParams({ p: password }).toString().slice('p='.length);
  const forms = new Set([
    password,
    uri,
    uri.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()), // percent-encoding in lower case
    uri.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    userinfoForm(password),
    uri.replaceAll('%20', '+'),
    formEncoded,
    JSON.stringify(password).slice(1, -1), // as a JSON string holds it
    base64(password),
    base64(`\u0000${user}\u0000${password}`),
    base64(`${user}\u0000${user}\u0000${password}`),
    base64(`${user}:${password}`), // HTTP Basic, as an HTTP API transport may echo its Authorization header
    // HTTP Basic of an OAuth 2.0 client (RFC 6749 section 2.3.1 form-encodes both parts first)
    base64(`${new URLSearchParams({ u: user }).toString().slice('u='.length)}:${formEncoded}`),
  ]);
  return [...forms]; // every form, however short: the password must never show
}

/**
 * Every form of a service account's private key that could show up in an error: as entered, as PEM, as escaped in
 * a JSON string, form-encoded, and each line of its base64 body (a parser may quote one).
 *
 * @param key - the Service Account Private Key; none or empty: nothing to look for
 */
function privateKeyForms(key: string | undefined): string[] {
  if (key === undefined || key.trim() === '') return [];
  const pem = normalizePrivateKey(key);
  const body = pem.split(/\r?\n/).filter((line) => !line.startsWith('-----') && line.trim().length >= 16);
  return [
    key,
    pem,
    JSON.stringify(pem).slice(1, -1),
    new URLSearchParams({ k: key }).toString().slice('k='.length),
    body.join(''),
    ...body.map((line) => line.trim()),
  ];
}

/** The settings fields that hold or accompany a secret. */
interface SecretSettings {
  username?: string | undefined;
  password?: string | undefined;
  oauthClientId?: string | undefined;
  oauthClientSecret?: string | undefined;
  oauthPrivateKey?: string | undefined;
}

/**
 * Every form of every secret of a set of settings: the password ({@link secretForms}), the OAuth client secret (the
 * same forms, as a token request posts it in a form or an HTTP Basic header) and the service account's private key.
 *
 * @param settings - the settings, parsed or not
 * @returns each form once
 */
export function settingsSecretForms(settings: SecretSettings): string[] {
  return [
    ...new Set([
      ...secretForms(settings.username, settings.password),
      ...secretForms(settings.oauthClientId, settings.oauthClientSecret),
      ...privateKeyForms(settings.oauthPrivateKey),
    ]),
  ];
}

/**
 * The forms of OAuth 2.0 access tokens that could show up in an error: the token, and the XOAUTH2 string SMTP sends
 * (base64 of `user=<mailbox>^Aauth=Bearer <token>^A^A`).
 *
 * @param user - the mailbox the tokens act for
 * @param tokens - the tokens granted
 */
export function tokenForms(user: string, tokens: readonly string[]): string[] {
  return tokens.flatMap((token) => [token, base64(`user=${user}\x01auth=Bearer ${token}\x01\x01`)]);
}

/** One foreign value being copied: what to look for and what has been seen. */
interface Copying {
  /** The secret forms, longest first, so that a form that contains another is replaced whole. */
  readonly secrets: readonly string[];
  /** Objects already copied, so that an object reached twice is copied once. */
  readonly copies: Map<object, unknown>;
  /** Objects being copied: meeting one again is a cycle. */
  readonly inProgress: Set<object>;
  /** Objects that may still be copied. */
  budget: number;
}

/**
 * `text` with every one of `secrets` (longest first) replaced by `********`.
 *
 * @param text - what may hold a secret
 * @param secrets - the forms to hide, from {@link secretForms} or {@link settingsSecretForms}
 */
export function hideSecrets(text: string, secrets: readonly string[]): string {
  const sorted = [...new Set(secrets)].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  return scrubText(text, sorted);
}

function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

/** `read()`, or `fallback` when it throws (a getter, a Proxy trap, a `toString`). */
function attempt<T, F>(read: () => T, fallback: F): T | F {
  try {
    return read();
  } catch {
    return fallback;
  }
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

/** The value of an own property as its descriptor gives it; a getter is run, {@link OMIT} when it throws. */
function ownValue(target: object, descriptor: PropertyDescriptor): unknown {
  if ('value' in descriptor) return descriptor.value;
  const get = descriptor.get;
  return get === undefined ? OMIT : attempt(() => get.call(target), OMIT);
}

/** The own string-keyed properties of `target` with their descriptors, at most {@link MAX_ENTRIES}. */
function ownProperties(target: object): { key: string; descriptor: PropertyDescriptor }[] {
  const keys = attempt(() => Reflect.ownKeys(target), []);
  const out: { key: string; descriptor: PropertyDescriptor }[] = [];
  for (const key of keys) {
    if (typeof key !== 'string') continue; // symbol keys hold a library's internal state, not a message
    if (out.length === MAX_ENTRIES) break;
    const descriptor = attempt(() => Reflect.getOwnPropertyDescriptor(target, key), undefined);
    if (descriptor !== undefined) out.push({ key, descriptor });
  }
  return out;
}

/** An error of this realm or another (a `vm` context). */
function isError(value: object): boolean {
  return types.isNativeError(value) || attempt(() => value instanceof Error, false);
}

/** The prototype a copy of `value` keeps: a built-in error's or the package's own, else `Error.prototype`. */
function keptPrototype(value: object): object {
  const prototype: unknown = attempt(() => Object.getPrototypeOf(value), null);
  if (typeof prototype !== 'object' || prototype === null) return Error.prototype;
  if (BUILT_IN_ERRORS.has(prototype)) return prototype;
  const own = attempt(() => Object.prototype.isPrototypeOf.call(MailerError.prototype, value), false);
  return own ? prototype : Error.prototype;
}

function textOf(value: unknown): string {
  const text = attempt(() => String(value), undefined);
  return text ?? UNREADABLE_MESSAGE;
}

function readText(source: object | undefined, key: 'message' | 'name' | 'stack'): string | undefined {
  if (source === undefined) return undefined;
  const value = attempt(() => (source as Record<string, unknown>)[key], undefined);
  return typeof value === 'string' ? value : undefined;
}

/**
 * A new Error from any value: its message, name and stack, and its own string-keyed properties (`code`,
 * `responseCode`, `command`, `response`, `cause`, `errors`...) copied with their enumerability, all scrubbed.
 */
function copyError(value: unknown, ctx: Copying, depth: number): Error {
  const source = typeof value === 'object' && value !== null ? value : undefined;
  const message = scrubText(readText(source, 'message') ?? textOf(value), ctx.secrets);
  const copy = new Error(message);
  if (source !== undefined) Object.setPrototypeOf(copy, keptPrototype(source));
  const name = scrubText(readText(source, 'name') ?? 'Error', ctx.secrets);
  if (name !== copy.name) define(copy, 'name', name, false);
  const stack = readText(source, 'stack');
  define(copy, 'stack', stack === undefined ? `${name}: ${message}` : scrubText(stack, ctx.secrets), false);
  if (source === undefined) return copy;
  for (const { key, descriptor } of ownProperties(source)) {
    if (key === 'message' || key === 'stack') continue;
    const copied = key === 'name' ? name : copyValue(ownValue(source, descriptor), ctx, depth + 1);
    if (copied !== OMIT) define(copy, key, copied, descriptor.enumerable === true);
  }
  return copy;
}

/** A copy of bytes, as scrubbed text when they hold a secret form. */
function copyBytes(view: ArrayBufferView, ctx: Copying): Buffer {
  const bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  const text = bytes.toString('utf8');
  const clean = scrubText(text, ctx.secrets);
  return clean === text ? Buffer.from(bytes) : Buffer.from(clean);
}

function copyArray(value: unknown[], ctx: Copying, depth: number): unknown[] {
  const out: unknown[] = [];
  const length = Math.min(value.length, MAX_ENTRIES);
  for (let i = 0; i < length; i += 1) {
    if (ctx.budget <= 0) break;
    const copied = copyValue(
      attempt(() => value[i], OMIT),
      ctx,
      depth + 1,
    );
    out.push(copied === OMIT ? undefined : copied);
  }
  if (out.length < value.length) out.push(TRUNCATED);
  return out;
}

function copyMap(value: Map<unknown, unknown>, ctx: Copying, depth: number): Map<unknown, unknown> {
  const out = new Map<unknown, unknown>();
  for (const [key, item] of Map.prototype.entries.call(value)) {
    if (out.size === MAX_ENTRIES || ctx.budget <= 0) {
      out.set(TRUNCATED, TRUNCATED);
      break;
    }
    const copiedKey = copyValue(key, ctx, depth + 1);
    const copied = copyValue(item, ctx, depth + 1);
    if (copiedKey !== OMIT && copied !== OMIT) out.set(copiedKey, copied);
  }
  return out;
}

function copySet(value: Set<unknown>, ctx: Copying, depth: number): Set<unknown> {
  const out = new Set<unknown>();
  for (const item of Set.prototype.values.call(value)) {
    if (out.size === MAX_ENTRIES || ctx.budget <= 0) {
      out.add(TRUNCATED);
      break;
    }
    const copied = copyValue(item, ctx, depth + 1);
    if (copied !== OMIT) out.add(copied);
  }
  return out;
}

/** A plain object with the enumerable own string-keyed properties of `value`, as `JSON.stringify` sees them. */
function copyPlain(value: object, ctx: Copying, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, descriptor } of ownProperties(value)) {
    if (descriptor.enumerable !== true) continue;
    if (ctx.budget <= 0) {
      define(out, key, TRUNCATED, true);
      break;
    }
    const copied = copyValue(ownValue(value, descriptor), ctx, depth + 1);
    if (copied !== OMIT) define(out, key, copied, true);
  }
  return out;
}

function copyObject(value: object, ctx: Copying, depth: number): unknown {
  if (isError(value)) return copyError(value, ctx, depth);
  if (Array.isArray(value)) return copyArray(value, ctx, depth);
  if (value instanceof Map) return copyMap(value, ctx, depth);
  if (value instanceof Set) return copySet(value, ctx, depth);
  if (ArrayBuffer.isView(value)) return copyBytes(value, ctx);
  if (value instanceof ArrayBuffer) return copyBytes(new Uint8Array(value), ctx);
  if (value instanceof Date) return new Date(Date.prototype.getTime.call(value));
  if (value instanceof URL) return scrubText(value.href, ctx.secrets);
  if (value instanceof URLSearchParams) return scrubText(value.toString(), ctx.secrets);
  return copyPlain(value, ctx, depth);
}

/** A scrubbed copy of any value; {@link OMIT} for a function or an unreadable property. */
function copyValue(value: unknown, ctx: Copying, depth: number): unknown {
  if (typeof value === 'string') return scrubText(value, ctx.secrets);
  if (typeof value === 'function') return OMIT;
  if (typeof value === 'symbol') {
    const { description } = value;
    if (description === undefined) return value;
    const clean = scrubText(description, ctx.secrets);
    return clean === description ? value : Symbol(clean);
  }
  if (typeof value !== 'object' || value === null) return value;
  if (ctx.inProgress.has(value)) return CIRCULAR;
  if (ctx.copies.has(value)) return ctx.copies.get(value);
  if (depth > MAX_DEPTH || ctx.budget <= 0) return TRUNCATED;
  ctx.budget -= 1;
  ctx.inProgress.add(value);
  try {
    const copy = copyObject(value, ctx, depth);
    ctx.copies.set(value, copy);
    return copy;
  } catch {
    return UNREADABLE;
  } finally {
    ctx.inProgress.delete(value);
  }
}

/**
 * Builds an Error that is safe to show from anything a transport failed with. Every form in `secrets` is replaced
 * by `********` in the message, the name, the stack and every string below it: properties (`response`, `command`
 * and any other), nested objects and arrays, Map and Set entries, bytes, `AggregateError.errors` and the `cause`
 * chain.
 *
 * The result is always a new Error and the value given is never changed: a frozen error stays frozen, and a
 * transport's own objects (its configuration, its request) keep their credentials. The copy keeps the name,
 * `code`, `responseCode` and every other own string-keyed property with its enumerability, and the prototype of
 * a built-in error (`AggregateError`, `TypeError`...) or of the package's own errors; any other class becomes a
 * plain `Error` with the same `name`, so that none of that class's methods (`toJSON`, `util.inspect.custom`,
 * getters) runs on the copy. Nested objects become plain objects of their enumerable properties, URLs become
 * their text; functions and symbol-keyed properties are left out; cycles become `'[Circular]'`, and what lies
 * deeper than 10 levels or beyond 1000 objects or entries becomes `'[Truncated]'`.
 *
 * Never throws: a getter or Proxy trap that throws is skipped, and a value that cannot be read at all gives an
 * Error that says so.
 *
 * @param value - what the transport threw or rejected with: any value
 * @param secrets - the forms to hide, from {@link secretForms}
 * @returns a new Error, safe for events, `util.inspect`, `JSON.stringify` and logs
 */
export function scrubForeign(value: unknown, secrets: readonly string[]): Error {
  const ctx: Copying = {
    secrets: [...new Set(secrets)].filter((s) => s !== '').sort((a, b) => b.length - a.length),
    copies: new Map(),
    inProgress: new Set(),
    budget: MAX_OBJECTS,
  };
  if (typeof value === 'object' && value !== null) ctx.inProgress.add(value);
  try {
    return copyError(value, ctx, 0);
  } catch {
    return new Error(UNREADABLE_MESSAGE);
  }
}
