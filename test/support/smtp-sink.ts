/**
 * A real SMTP server for tests: receives mail from real clients on 127.0.0.1, records what it
 * accepted, and injects faults (rejections, dropped connections, stalls) per recipient.
 */
import type { Socket } from 'node:net';
import { generate } from 'selfsigned';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerAuthenticationResponse,
  type SMTPServerDataStream,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';

/** How the sink offers TLS. */
export type SinkMode = 'plain' | 'starttls' | 'implicit';

/** A PEM key pair the sink serves TLS with. */
export interface SinkCertificate {
  key: string;
  cert: string;
}

/** Credentials the sink accepts. */
export interface SinkAuth {
  username: string;
  password: string;
}

/** Options of {@link startSmtpSink}. */
export interface SinkOptions {
  /**
   * `plain` (default): no TLS at all, STARTTLS disabled. `starttls`: STARTTLS offered with the
   * certificate. `implicit`: TLS from the first byte.
   */
  mode?: SinkMode;
  /** When set, AUTH PLAIN/LOGIN is required and wrong credentials get 535. When not set, AUTH is disabled. */
  auth?: SinkAuth;
  /** Allow AUTH before TLS. Defaults to true in `plain` mode, false otherwise. */
  allowInsecureAuth?: boolean;
  /** Key and certificate to serve. Defaults to {@link makeCertificate}. */
  certificate?: SinkCertificate;
  /** Maximum message size in bytes (advertised as SIZE; bigger messages get 552). */
  maxSize?: number;
  /**
   * Turns on AUTH XOAUTH2 and judges each token login: `ok` accepts it; `challenge` refuses it the XOAUTH2 way (a
   * `334` with the JSON status `401`, then `535` after the client's empty line); `refuse` answers `535` at once.
   */
  xoauth2?: (user: string, accessToken: string) => XOAuth2Verdict | Promise<XOAuth2Verdict>;
  /** Answers every password login with this reply instead (e.g. Exchange Online's `550 5.7.30`). */
  passwordReply?: { code: number; message: string };
}

/** How the sink answers one XOAUTH2 login. */
export type XOAuth2Verdict = 'ok' | 'challenge' | 'refuse';

/** One XOAUTH2 login the sink saw. */
export interface XOAuth2Login {
  user: string;
  accessToken: string;
  verdict: XOAuth2Verdict;
}

/** A message the sink accepted. */
export interface ReceivedMessage {
  /** Envelope MAIL FROM. */
  from: string;
  /** Envelope RCPT TO addresses, as the client sent them. */
  to: string[];
  /** The full DATA as received. */
  raw: Buffer;
  /** Top-level headers: lower-cased names, unfolded values, first occurrence wins. */
  headers: Map<string, string>;
  /** The raw (not MIME-decoded) Subject header, or `''`. */
  subject: string;
  /** The authenticated username, if any. */
  user?: string;
  /** Whether the session was TLS-protected (implicit TLS or after STARTTLS). */
  secure: boolean;
}

/**
 * A fault injected for one attempt addressed to a recipient.
 *
 * - `rcpt`: reject that recipient at RCPT TO with `code`.
 * - `data`: accept the recipients, read the whole message, then reject it with `code`.
 * - `drop`: destroy the socket, at RCPT TO or once the whole message was read (so the client never
 *   gets the reply to the final dot).
 * - `stall`: never answer, until the sink is closed. A `mail` stall is consumed by the next MAIL FROM
 *   of any session, as no recipient is known at that point; the attempt is not counted in `attempts`.
 */
export type Fault =
  | { type: 'rcpt'; code: 451 | 421 | 550 | 552 | 553; message?: string }
  | { type: 'data'; code: 451 | 452 | 552 | 554; message?: string }
  | { type: 'drop'; stage: 'rcpt' | 'data' }
  | { type: 'stall'; stage: 'rcpt' | 'data' | 'mail' };

/** A running sink. Close it in `afterEach`. */
export interface SmtpSink {
  readonly host: '127.0.0.1';
  /** The random port the sink listens on. */
  readonly port: number;
  readonly mode: SinkMode;
  /** PEM certificate to trust (`tls: { ca }`). */
  readonly ca: string;
  /** Accepted messages, in order. */
  readonly messages: ReceivedMessage[];
  /** How many times each recipient (lower-cased) was seen at RCPT TO, faulted tries included. */
  readonly attempts: Map<string, number>;
  /** When each MAIL FROM arrived (`performance.now()`), in order: the throttle as the relay counts it. */
  readonly mailFromTimes: number[];
  /** Each MAIL FROM as it arrived: when, and the envelope sender it named. */
  readonly mailFroms: readonly { at: number; from: string }[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Connections open on the sink's side right now. */
  readonly openConnections: number;
  /** Failed AUTH attempts so far. */
  readonly authFailures: number;
  /** Every XOAUTH2 login, in order. */
  readonly xoauth2Logins: XOAuth2Login[];
  /** Queue faults for the next attempts addressed to `recipient` (case-insensitive); each attempt consumes one. */
  failNext(recipient: string, ...faults: Fault[]): void;
  /** A fault applied to every attempt for `recipient` (after any queued ones) until cleared. */
  failAlways(recipient: string, fault: Fault): void;
  /** Remove every queued and permanent fault. */
  clearFaults(): void;
  /** Change the accepted credentials for new connections; `undefined` turns AUTH off. */
  setAuth(auth: SinkAuth | undefined): void;
  /** Resolves with all messages once `count` were accepted; rejects after `timeoutMs` (default 10000). */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Clear messages, attempts, counters and faults. */
  reset(): void;
  /** Stop listening and destroy every open connection, stalled ones included. */
  close(): Promise<void>;
}

/** A PEM certificate with its key, and the PEM to trust it by. */
export interface GeneratedCertificate extends SinkCertificate {
  ca: string;
}

let certificate: Promise<GeneratedCertificate> | undefined;

/**
 * A self-signed certificate for `localhost` and `127.0.0.1`, generated once per process.
 * `ca` is the certificate itself, so a client passing `tls: { ca }` verifies the sink.
 */
export async function makeCertificate(): Promise<GeneratedCertificate> {
  certificate ??= generateCertificate().catch((error: unknown) => {
    certificate = undefined;
    throw error;
  });
  return certificate;
}

async function generateCertificate(): Promise<GeneratedCertificate> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert, ca: pems.cert };
}

/**
 * Parse the top-level header block of a raw message: split at the first blank line, unfold
 * continuation lines, lower-case the names and keep the first occurrence of each.
 */
export function parseHeaders(raw: Buffer): Map<string, string> {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const headers = new Map<string, string>();
  for (const line of unfold(block.split(/\r?\n/))) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (colon > 0 && !headers.has(name)) {
      headers.set(name, line.slice(colon + 1).trim());
    }
  }
  return headers;
}

function unfold(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const last = out.length - 1;
    if (/^[ \t]/.test(line) && last >= 0) {
      out[last] += line;
    } else {
      out.push(line);
    }
  }
  return out;
}

/** Start a sink on a random port of 127.0.0.1. */
export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const sink = new Sink(options, options.certificate ?? (await makeCertificate()));
  await sink.listen();
  return sink;
}

type Callback = (error?: Error | null) => void;

interface FaultEntry {
  queue: Fault[];
  always: Fault | undefined;
}

interface Waiter {
  count: number;
  resolve: (messages: ReceivedMessage[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_MESSAGES: Record<number, string> = {
  421: 'Service not available, closing channel (injected)',
  451: 'Temporary local problem, try again later (injected)',
  452: 'Insufficient system storage (injected)',
  550: 'Mailbox unavailable (injected)',
  552: 'Exceeded storage allocation (injected)',
  553: 'Mailbox name not allowed (injected)',
  554: 'Transaction failed (injected)',
};

function smtpError(code: number, message?: string): Error {
  return Object.assign(new Error(message ?? DEFAULT_MESSAGES[code] ?? 'Injected failure'), {
    responseCode: code,
  });
}

function hasStage(fault: Fault, stage: 'mail' | 'rcpt' | 'data'): boolean {
  return (fault.type === 'drop' || fault.type === 'stall') && fault.stage === stage;
}

class Sink implements SmtpSink {
  readonly host = '127.0.0.1';
  port = 0;
  readonly mode: SinkMode;
  readonly ca: string;
  readonly messages: ReceivedMessage[] = [];
  readonly attempts = new Map<string, number>();
  /** When each MAIL FROM arrived (performance.now() of this process), in order: the relay's own count. */
  readonly mailFromTimes: number[] = [];
  readonly mailFroms: { at: number; from: string }[] = [];
  connections = 0;
  authFailures = 0;
  readonly xoauth2Logins: XOAuth2Login[] = [];

  private auth: SinkAuth | undefined;
  private readonly xoauth2: SinkOptions['xoauth2'];
  private readonly passwordReply: SinkOptions['passwordReply'];
  private readonly serverOptions: SMTPServerOptions;
  private readonly server: SMTPServer;
  private readonly faults = new Map<string, FaultEntry>();
  /** The data-stage fault chosen at RCPT TO, per session id. */
  private readonly dataFaults = new Map<string, Fault>();
  private readonly sockets = new Set<Socket>();
  private waiters: Waiter[] = [];
  private closing: Promise<void> | undefined;

  constructor(options: SinkOptions, certificate: SinkCertificate) {
    this.mode = options.mode ?? 'plain';
    this.ca = certificate.cert;
    this.auth = options.auth;
    this.xoauth2 = options.xoauth2;
    this.passwordReply = options.passwordReply;
    this.serverOptions = this.buildOptions(options, certificate);
    this.server = new SMTPServer(this.serverOptions);
    this.server.on('error', () => {
      // client-side resets and timeouts are expected in fault tests
    });
    this.server.server.on('connection', (socket: Socket) => this.track(socket));
  }

  private buildOptions(options: SinkOptions, certificate: SinkCertificate): SMTPServerOptions {
    const baseOptions: SMTPServerOptions = {
      logger: false,
      disableReverseLookup: true,
      secure: this.mode === 'implicit',
      key: certificate.key,
      cert: certificate.cert,
      authOptional: this.auth === undefined && this.xoauth2 === undefined,
      disabledCommands: this.disabledCommands(),
      authMethods: this.xoauth2 === undefined ? ['PLAIN', 'LOGIN'] : ['PLAIN', 'LOGIN', 'XOAUTH2'],
      allowInsecureAuth: options.allowInsecureAuth ?? this.mode === 'plain',
      onConnect: (session, callback) => this.onConnect(session, callback),
      onAuth: (auth, _session, callback) => this.onAuth(auth, callback),
      onMailFrom: (address, session, callback) => this.onMailFrom(address.address, session, callback),
      onRcptTo: (address, session, callback) => this.onRcptTo(address, session, callback),
      onData: (stream, session, callback) => this.onData(stream, session, callback),
      onClose: (session) => this.dataFaults.delete(session.id),
    };
    return options.maxSize === undefined ? baseOptions : { ...baseOptions, size: options.maxSize };
  }

  private disabledCommands(): string[] {
    const disabled = this.mode === 'plain' ? ['STARTTLS'] : [];
    return this.auth === undefined && this.xoauth2 === undefined ? [...disabled, 'AUTH'] : disabled;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  private track(socket: Socket): void {
    this.connections += 1;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Listen on a random port of 127.0.0.1. */
  async listen(): Promise<void> {
    const server = this.server.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') {
      throw new Error('smtp-sink: could not read the listening port');
    }
    this.port = address.port;
  }

  private onConnect(session: SMTPServerSession, callback: Callback): void {
    // the current credentials decide whether this session offers AUTH (see setAuth)
    session.disabledCommands = this.disabledCommands();
    callback();
  }

  private onAuth(
    auth: SMTPServerAuthentication,
    callback: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    if (auth.method === 'XOAUTH2' && this.xoauth2 !== undefined) {
      this.judgeToken(auth, callback);
      return;
    }
    if (this.passwordReply !== undefined) {
      this.authFailures += 1;
      callback(smtpError(this.passwordReply.code, this.passwordReply.message));
      return;
    }
    const expected = this.auth;
    if (expected && auth.username === expected.username && auth.password === expected.password) {
      callback(null, { user: auth.username });
      return;
    }
    this.authFailures += 1;
    callback(smtpError(535, 'Authentication credentials invalid'));
  }

  /** Answers an XOAUTH2 login as the `xoauth2` option judges its token. */
  private judgeToken(
    auth: SMTPServerAuthentication,
    callback: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    const accessToken = auth.accessToken ?? '';
    Promise.resolve(this.xoauth2?.(auth.username ?? '', accessToken) ?? 'refuse').then((verdict) =>
      this.answerToken(auth, accessToken, verdict, callback),
    );
  }

  private answerToken(
    auth: SMTPServerAuthentication,
    accessToken: string,
    verdict: XOAuth2Verdict,
    callback: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    this.xoauth2Logins.push({ user: auth.username ?? '', accessToken, verdict });
    if (verdict === 'ok') {
      callback(null, { user: auth.username });
      return;
    }
    this.authFailures += 1;
    if (verdict === 'challenge') {
      // the XOAUTH2 refusal: a 334 with a JSON status, then 535 after the client's empty line
      callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
      return;
    }
    callback(smtpError(535, '5.7.3 Authentication unsuccessful'));
  }

  private onMailFrom(from: string, session: SMTPServerSession, callback: Callback): void {
    const at = performance.now();
    this.mailFromTimes.push(at);
    this.mailFroms.push({ at, from });
    this.dataFaults.delete(session.id);
    if (this.takeMailStall()) {
      return; // never answered; close() destroys the socket
    }
    callback();
  }

  private onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void {
    const recipient = address.address.toLowerCase();
    this.attempts.set(recipient, (this.attempts.get(recipient) ?? 0) + 1);
    const fault = this.takeFault(recipient);
    if (fault === undefined) {
      callback();
    } else if (fault.type === 'rcpt') {
      callback(smtpError(fault.code, fault.message));
    } else if (fault.type === 'drop' && fault.stage === 'rcpt') {
      this.destroySession(session);
    } else if (fault.type === 'stall' && fault.stage !== 'data') {
      // never answered; close() destroys the socket
    } else {
      if (!this.dataFaults.has(session.id)) {
        this.dataFaults.set(session.id, fault);
      }
      callback();
    }
  }

  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: Callback): void {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const fault = this.dataFaults.get(session.id);
      this.dataFaults.delete(session.id);
      if (fault === undefined) {
        this.finishData(Buffer.concat(chunks), stream.sizeExceeded, session, callback);
      } else if (fault.type === 'data') {
        callback(smtpError(fault.code, fault.message));
      } else if (fault.type === 'drop') {
        this.destroySession(session);
      }
      // a data stall never answers; close() destroys the socket
    });
  }

  private finishData(raw: Buffer, oversized: boolean, session: SMTPServerSession, callback: Callback): void {
    if (oversized) {
      callback(smtpError(552, 'Message exceeds the maximum size'));
      return;
    }
    this.record(raw, session);
    callback();
  }

  private record(raw: Buffer, session: SMTPServerSession): void {
    const { mailFrom, rcptTo } = session.envelope;
    const headers = parseHeaders(raw);
    const message: ReceivedMessage = {
      from: mailFrom ? mailFrom.address : '',
      to: rcptTo.map((rcpt) => rcpt.address),
      raw,
      headers,
      subject: headers.get('subject') ?? '',
      secure: session.secure,
    };
    if (typeof session.user === 'string') {
      message.user = session.user;
    }
    this.messages.push(message);
    this.notifyWaiters();
  }

  private takeFault(recipient: string): Fault | undefined {
    const entry = this.faults.get(recipient);
    return entry === undefined ? undefined : (entry.queue.shift() ?? entry.always);
  }

  private takeMailStall(): boolean {
    for (const entry of this.faults.values()) {
      const head = entry.queue[0];
      if (head !== undefined && hasStage(head, 'mail')) {
        entry.queue.shift();
        return true;
      }
      if (head === undefined && entry.always !== undefined && hasStage(entry.always, 'mail')) {
        return true;
      }
    }
    return false;
  }

  private faultEntry(recipient: string): FaultEntry {
    const key = recipient.toLowerCase();
    let entry = this.faults.get(key);
    if (entry === undefined) {
      entry = { queue: [], always: undefined };
      this.faults.set(key, entry);
    }
    return entry;
  }

  private destroySession(session: SMTPServerSession): void {
    for (const connection of this.server.connections) {
      if (connection.id === session.id) {
        connection._socket.destroy();
      }
    }
  }

  failNext(recipient: string, ...faults: Fault[]): void {
    this.faultEntry(recipient).queue.push(...faults);
  }

  failAlways(recipient: string, fault: Fault): void {
    this.faultEntry(recipient).always = fault;
  }

  clearFaults(): void {
    this.faults.clear();
  }

  setAuth(auth: SinkAuth | undefined): void {
    this.auth = auth;
    // smtp-server reads its (caller-owned) options object live
    this.serverOptions.authOptional = auth === undefined;
  }

  waitForMessages(count: number, timeoutMs = 10_000): Promise<ReceivedMessage[]> {
    if (this.messages.length >= count) {
      return Promise.resolve([...this.messages]);
    }
    if (this.closing) {
      return Promise.reject(new Error(`smtp-sink: closed while waiting for ${count} message(s)`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.timer !== timer);
        reject(
          new Error(
            `smtp-sink: timed out after ${timeoutMs} ms waiting for ${count} message(s); ${this.messages.length} received`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({ count, resolve, reject, timer });
    });
  }

  private notifyWaiters(): void {
    const ready = this.waiters.filter((waiter) => this.messages.length >= waiter.count);
    this.waiters = this.waiters.filter((waiter) => this.messages.length < waiter.count);
    for (const waiter of ready) {
      clearTimeout(waiter.timer);
      waiter.resolve([...this.messages]);
    }
  }

  reset(): void {
    this.messages.length = 0;
    this.attempts.clear();
    this.mailFromTimes.length = 0;
    this.mailFroms.length = 0;
    this.connections = 0;
    this.authFailures = 0;
    this.xoauth2Logins.length = 0;
    this.clearFaults();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`smtp-sink: closed while waiting for ${waiter.count} message(s)`));
    }
    this.waiters = [];
    const closed = new Promise<void>((resolve) => this.server.close(resolve));
    // the topmost socket of every session (the TLS one after STARTTLS), stalled ones included
    for (const connection of this.server.connections) {
      connection._socket.destroy();
    }
    // anything accepted but not yet handed to a session
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await closed;
  }
}
