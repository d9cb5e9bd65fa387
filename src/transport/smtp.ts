import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { inspect } from 'node:util';
import nodemailer from 'nodemailer';
import type { MailAttachment } from '../mail.js';
import { wireMessageId } from '../message-id.js';
import type { OAuthEndpoints } from '../oauth/options.js';
import { TokenSource } from '../oauth/token-source.js';
import { DEFAULT_SMTP_PORT } from '../settings/defaults.js';
import type { EmailSettings } from '../settings/schema.js';
import { MailFromWatch } from './mail-from-watch.js';
import { OAuthLogin } from './oauth-login.js';
import type { OutgoingMail, SendProgress, Transport, TransportResult } from './types.js';
import { attachmentNaming, wireHeaderValue, wireText } from './wire-headers.js';

/**
 * How the connection to the SMTP server is encrypted: `'none'` (Use TLS off: plain SMTP, even when the server offers
 * STARTTLS), `'starttls'` (Use TLS on a port that is not implicit: the connection must be upgraded with STARTTLS) or
 * `'implicit'` (Use TLS on port 465 or another of {@link TlsOptions.implicitTlsPorts}: TLS from the first byte).
 */
export type TlsMode = 'none' | 'starttls' | 'implicit';

/** TLS options for the connection to the SMTP server. Certificates are verified unless this says otherwise. */
export interface TlsOptions {
  /**
   * Certificate authorities to trust, e.g. a district's own CA (PEM). As in Node's `tls` options, these replace
   * Node's built-in list of public CAs for this connection; to trust both, pass
   * `[...tls.rootCertificates, districtCa]`. (`NODE_EXTRA_CA_CERTS` adds a CA for the whole process instead.)
   * @default Node's built-in public CAs
   */
  ca?: string | Buffer | (string | Buffer)[];
  /**
   * Set to `false` to accept any certificate. Prefer `ca`: without verification the password can be stolen.
   * @default true
   */
  rejectUnauthorized?: boolean;
  /**
   * Ports on which Use TLS means TLS from the first byte (implicit TLS); on any other port it means STARTTLS.
   * @default [465]
   */
  implicitTlsPorts?: number[];
}

/** Options of {@link smtpTransport} beyond what the Email Settings say. */
export interface SmtpTransportOptions {
  /** TLS options; certificates are verified by default. */
  tls?: TlsOptions;
  /**
   * SMTP connections kept open at once (nodemailer's pool `maxConnections`); match the Mailer's `maxConcurrent`.
   * @default 5
   */
  maxConnections?: number;
  /**
   * Messages one pooled connection carries before it is replaced. Each new connection costs a handshake (and many
   * servers delay their greeting), so a long-lived connection keeps the throttle's pace; lower it for a server that
   * limits messages per connection, since a refused message waits Minutes Between Retries.
   * @default 1000
   */
  maxMessagesPerConnection?: number;
  /**
   * Overrides the SMTP Timeout setting, in milliseconds, for every wait for the server (connect, greeting, each
   * reply, inactivity). For tests and for servers on the same host; administrators set the timeout in seconds.
   * @default the settings' `smtpTimeoutSeconds` × 1000
   */
  timeoutMs?: number;
  /** The name this client gives in EHLO. @default the machine's host name */
  clientName?: string;
  /**
   * Where OAuth 2.0 tokens are asked for (Authentication Method OAuth 2.0): the providers' public endpoints unless
   * set, for example for a national cloud or a test token service.
   */
  oauthEndpoints?: OAuthEndpoints;
  /** The clock that times OAuth 2.0 tokens. @default Date.now */
  now?: () => number;
}

/**
 * How the Email Settings' Use TLS and SMTP Port translate to a connection: implicit TLS on 465 (or the given
 * implicit ports), STARTTLS on any other port, no TLS without Use TLS.
 */
export function tlsMode(settings: EmailSettings, implicitTlsPorts: readonly number[] = [465]): TlsMode {
  if (!settings.useTls) return 'none';
  return implicitTlsPorts.includes(settings.smtpPort ?? DEFAULT_SMTP_PORT) ? 'implicit' : 'starttls';
}

type Mailer = ReturnType<typeof nodemailer.createTransport>;

/** The part of the SMTP Timeout a token request may take. */
const TOKEN_SHARE_OF_TIMEOUT = 0.8;

/** The login nodemailer makes: a password, or XOAUTH2 with tokens from `login`. */
function authOptions(settings: EmailSettings, login: OAuthLogin | undefined) {
  if (!settings.useAuthentication) return {};
  if (login !== undefined) return { auth: login.nodemailerAuth(), forceAuth: true };
  return { auth: { user: settings.username ?? '', pass: settings.password ?? '' }, forceAuth: true };
}

/** The nodemailer options for a set of settings: pool, port, TLS mode, credentials and timeouts. */
function nodemailerOptions(
  settings: EmailSettings,
  options: SmtpTransportOptions,
  watch: MailFromWatch,
  login: OAuthLogin | undefined,
) {
  const mode = tlsMode(settings, options.tls?.implicitTlsPorts);
  const timeout = options.timeoutMs ?? settings.smtpTimeoutSeconds * 1000;
  const tls: Record<string, unknown> = { rejectUnauthorized: options.tls?.rejectUnauthorized ?? true };
  if (options.tls?.ca !== undefined) tls.ca = options.tls.ca;
  if (isIP(settings.smtpHost) === 0) tls.servername = settings.smtpHost.replace(/\.$/, '');
  return {
    pool: true as const,
    host: settings.smtpHost,
    port: settings.smtpPort ?? DEFAULT_SMTP_PORT,
    secure: mode === 'implicit',
    requireTLS: mode === 'starttls',
    // Use TLS off means no TLS, as the settings screen says. (Opportunistic STARTTLS would fail outright on the
    // self-signed certificates internal relays often have, where nodemailer does not fall back to plain text.)
    ignoreTLS: mode === 'none',
    tls,
    ...authOptions(settings, login),
    ...(options.clientName !== undefined ? { name: options.clientName } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    dnsTimeout: timeout,
    maxConnections: options.maxConnections ?? 5,
    maxMessages: options.maxMessagesPerConnection ?? 1000,
    maxRequeues: 0, // a dropped connection is a failed attempt the Mailer counts, never a silent resend
    socketCloseTimeout: 0, // on close, release the socket at once instead of waiting up to 5 s for the server's side
    logger: watch.logger, // writes nothing: it only learns when each MAIL FROM is answered
    transactionLog: true, // commands and replies, never the message itself
    debug: false,
  };
}

function toNodemailerAttachment(attachment: MailAttachment) {
  const { filename, content, path, contentType } = attachment;
  const base = attachmentNaming(filename, contentType);
  if (path !== undefined) return { ...base, path };
  if (typeof content === 'function') return { ...base, content: content() as Readable };
  if (content instanceof Uint8Array) {
    return { ...base, content: Buffer.from(content.buffer, content.byteOffset, content.byteLength) };
  }
  return { ...base, content: content ?? '' };
}

/**
 * The nodemailer form of a message. Only what the message has is passed: nodemailer does work for every key it is
 * given, even an empty list.
 */
function toNodemailerMessage(mail: OutgoingMail, signal: AbortSignal | undefined) {
  const out: Record<string, unknown> = { from: mail.from, to: mail.to, subject: wireText(mail.subject) };
  if (mail.cc.length > 0) out.cc = mail.cc;
  if (mail.bcc.length > 0) out.bcc = mail.bcc;
  if (mail.replyTo !== undefined) out.replyTo = mail.replyTo;
  if (mail.text !== undefined) out.text = mail.text;
  if (mail.html !== undefined) out.html = mail.html;
  const headers: Record<string, string> = {};
  let extra = false;
  for (const [name, value] of Object.entries(mail.headers)) {
    if (name.toLowerCase() === 'message-id') {
      // written exactly as nodemailer will write it, so that the id it reports is the id on the wire
      out.messageId = wireMessageId(value);
    } else {
      headers[name] = wireHeaderValue(name, value);
      extra = true;
    }
  }
  if (extra) out.headers = headers;
  if (mail.attachments.length > 0) out.attachments = mail.attachments.map(toNodemailerAttachment);
  if (signal !== undefined) out.signal = signal;
  return out;
}

function addressList(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((entry) =>
    typeof entry === 'string' ? entry : String((entry as { address?: unknown })?.address ?? ''),
  );
}

/** The SMTP transport: a nodemailer pool configured from the Email Settings. */
class SmtpTransport implements Transport {
  readonly #mailer: Mailer;
  readonly #watch = new MailFromWatch();
  readonly #login: OAuthLogin | undefined;
  readonly #summary: { host: string; port: number; tls: TlsMode; authenticated: boolean };

  constructor(settings: EmailSettings, options: SmtpTransportOptions) {
    if (settings.useAuthentication && settings.authMethod === 'oauth2') {
      const timeoutMs = options.timeoutMs ?? settings.smtpTimeoutSeconds * 1000;
      const tokens = new TokenSource(settings, {
        endpoints: options.oauthEndpoints,
        // within the SMTP Timeout, and shorter than it, so that a check bounded by the SMTP Timeout reports a slow
        // token endpoint as the token's failure rather than as a server that did not answer
        timeoutMs: Math.max(1, Math.floor(timeoutMs * TOKEN_SHARE_OF_TIMEOUT)),
        now: options.now,
      });
      this.#login = new OAuthLogin(tokens);
    }
    this.#mailer = nodemailer.createTransport(nodemailerOptions(settings, options, this.#watch, this.#login));
    this.#summary = {
      host: settings.smtpHost,
      port: settings.smtpPort ?? DEFAULT_SMTP_PORT,
      tls: tlsMode(settings, options.tls?.implicitTlsPorts),
      authenticated: settings.useAuthentication,
    };
  }

  async send(mail: OutgoingMail, signal?: AbortSignal, progress?: SendProgress): Promise<TransportResult> {
    const messageId = mail.headers['Message-ID'];
    const unwatch =
      progress !== undefined && messageId !== undefined
        ? this.#watch.watch(messageId, () => progress.started())
        : undefined;
    try {
      const message = toNodemailerMessage(mail, signal);
      const info =
        this.#login === undefined
          ? await this.#mailer.sendMail(message)
          : await this.#login.run(() => this.#mailer.sendMail(message), signal);
      return {
        messageId: String(info.messageId ?? messageId ?? ''),
        accepted: addressList(info.accepted),
        rejected: addressList(info.rejected),
        response: String(info.response ?? ''),
      };
    } finally {
      unwatch?.();
    }
  }

  async verify(): Promise<void> {
    if (this.#login === undefined) await this.#mailer.verify();
    else await this.#login.run(() => this.#mailer.verify());
  }

  /**
   * Closes every connection and resolves once their sockets are released. The Mailer closes a transport only when
   * it has no message in flight, so connections still opening (waiting for a greeting) are closed too rather than
   * left to open and close later.
   */
  async close(): Promise<void> {
    this.#mailer.close({ force: true });
    // the sockets are destroyed (socketCloseTimeout 0); their handles go at the end of this turn of the event loop
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }

  toJSON() {
    return { transport: 'smtp', ...this.#summary };
  }

  [inspect.custom]() {
    return `SmtpTransport ${inspect(this.toJSON())}`;
  }
}

/**
 * The default transport: SMTP through a nodemailer connection pool, configured from the Email Settings.
 *
 * - Port: SMTP Port, or 25 when blank.
 * - Use TLS on port 465: TLS from the first byte. Use TLS on any other port: STARTTLS is required, and a server
 *   that does not offer it fails the attempt. Use TLS off: no TLS, even when the server offers STARTTLS (so with
 *   Use Authentication the login crosses the network unencrypted: check Use TLS wherever the server supports it).
 * - Use Authentication: logs in with Username and Password, even when the server does not advertise AUTH; with the
 *   OAuth 2.0 method, with an access token (XOAUTH2) for the mailbox in Username. Tokens are fetched from the
 *   provider when first needed, shared by every connection, fetched again shortly before they expire, and once more
 *   when the server refuses one (then the login is tried again once). A token request is bounded by 80 % of the SMTP
 *   Timeout;
 *   its failure is an `OAuthTokenError`.
 * - SMTP Timeout bounds every wait for the server: connect, greeting, each reply, inactivity.
 * - Certificates are verified unless `options.tls` says otherwise.
 *
 * Neither `util.inspect` nor `JSON.stringify` of the transport shows the password.
 *
 * @param settings - parsed Email Settings
 * @param options - TLS, pool size and timeout overrides
 */
export function smtpTransport(settings: EmailSettings, options: SmtpTransportOptions = {}): Transport {
  return new SmtpTransport(settings, options);
}
