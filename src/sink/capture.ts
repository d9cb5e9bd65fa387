import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** A message the capture sink accepted. */
export interface CapturedMessage {
  /** Sequence number, from 1. */
  seq: number;
  /** Envelope sender. */
  from: string;
  /** Envelope recipients. */
  to: string[];
  /** The Subject header as received. */
  subject: string;
  /** The whole message as received. */
  raw: Buffer;
  /** Where it was saved, when the sink has a folder. */
  file?: string;
  /** The user name it logged in with, when the sink asks for a login. */
  user?: string;
  /**
   * The value of a top-level header, unfolded and with encoded words decoded (`header('x-priority')`); the first
   * when it repeats, `undefined` when absent. Case-insensitive. For bodies and attachments, give `raw` to a MIME
   * parser (`simpleParser` of the mailparser package).
   */
  header(name: string): string | undefined;
}

/** The login a capture sink asks for (see {@link CaptureSinkOptions.auth}). */
export interface CaptureSinkLogin {
  /** The user name to accept. */
  username: string;
  /** The password to accept. */
  password: string;
}

/** Options of {@link startCaptureSink}. */
export interface CaptureSinkOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** Folder to save every message in as `NNNN-<subject>.eml`; none: keep them in memory only. */
  dir?: string;
  /** Called for every message accepted, after the client is answered; what it throws becomes a process warning. */
  onMessage?: (message: CapturedMessage) => void;
  /**
   * Offer AUTH (PLAIN and LOGIN, over the plain connection) and accept only this login; a wrong one gets `535`.
   * None: AUTH is not offered and no login is needed.
   */
  auth?: CaptureSinkLogin;
}

/** Options of {@link CaptureSink.waitFor}. */
export interface WaitForOptions {
  /**
   * How long to wait before rejecting; `Infinity` waits until the messages arrive or the sink closes or is
   * cleared. @default 4000 (below the usual 5 s limit of a test, so the list of what arrived is what you read)
   */
  timeoutMs?: number;
}

/** A running capture sink. */
export interface CaptureSink {
  /** The address it listens on. */
  host: string;
  /** The port it listens on. */
  port: number;
  /** The login it asks for (see {@link CaptureSinkOptions.auth}); none: no login. */
  auth?: CaptureSinkLogin;
  /** Every message accepted, in order. */
  messages: CapturedMessage[];
  /** Answers the next attempt for `recipient` with this SMTP code at RCPT TO (e.g. 451 to test a retry). */
  failNext(recipient: string, code: number, text?: string): void;
  /**
   * Resolves with the messages once `count` have been accepted (at once when they have), in order. Rejects after
   * the time limit with an error that lists what did arrive.
   *
   * @param count - how many messages to wait for in all (counted since the start or the last {@link clear})
   * @param options - the time limit
   */
  waitFor(count: number, options?: WaitForOptions): Promise<CapturedMessage[]>;
  /**
   * Forgets the messages accepted so far and the faults not used yet (between tests), and rejects the waits still
   * pending, so that none resolves with the next test's messages. Saved files stay.
   */
  clear(): void;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

type SmtpServerModule = typeof import('smtp-server');

async function loadSmtpServer(): Promise<SmtpServerModule> {
  try {
    return await import('smtp-server');
  } catch (error) {
    throw new Error(
      'The capture sink needs the smtp-server package: npm install --save-dev smtp-server (with a global install of messenger-email: npm install --global smtp-server)',
      {
        cause: error,
      },
    );
  }
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?B?...?=`) of a header for display. */
export function decodeHeader(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(
      /=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g,
      (whole, charset: string, encoding: string, text: string) => {
        try {
          const bytes =
            encoding.toUpperCase() === 'B'
              ? Buffer.from(text, 'base64')
              : Buffer.from(
                  text
                    .replace(/_/g, ' ')
                    .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) =>
                      String.fromCharCode(Number.parseInt(hex, 16)),
                    ),
                  'latin1',
                );
          return new TextDecoder(charset).decode(bytes);
        } catch {
          return whole;
        }
      },
    );
}

/** The top-level header lines of a message, unfolded (the first 64 KB are read). */
function headerLines(raw: Buffer): string[] {
  const head = raw.subarray(0, Math.min(raw.length, 64 * 1024)).toString('utf8');
  const end = head.search(/\r?\n\r?\n/);
  return (end === -1 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
}

/** The first value of a header as received, or `undefined`. */
function rawHeader(lines: readonly string[], name: string): string | undefined {
  const prefix = `${name.toLowerCase()}:`;
  const line = lines.find((candidate) => candidate.toLowerCase().startsWith(prefix));
  return line?.slice(prefix.length).trim();
}

interface Waiter {
  count: number;
  resolve: (messages: CapturedMessage[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** How long {@link CaptureSink.waitFor} waits by default: less than a test runner's usual 5 s per test. */
const DEFAULT_WAIT_MS = 4000;
/** The longest delay setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a wait ran out, with what did arrive. */
function waitTimedOut(count: number, timeoutMs: number, messages: readonly CapturedMessage[]): Error {
  const got = messages.map((m) => `#${m.seq} to ${m.to.join(', ')}: ${decodeHeader(m.subject)}`);
  const list = got.length === 0 ? 'none arrived' : `${got.length} arrived: ${got.join('; ')}`;
  return new Error(`Waited ${timeoutMs} ms for ${count} message(s) at the capture sink; ${list}`);
}

function fileName(seq: number, subject: string): string {
  const slug = decodeHeader(subject)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${String(seq).padStart(4, '0')}${slug ? `-${slug}` : ''}.eml`;
}

/**
 * A local SMTP server for development and demos that accepts every message (plain SMTP, no login) and keeps it,
 * in memory and optionally as `.eml` files. Listens on 127.0.0.1 by default. Needs the `smtp-server` package.
 *
 * @param options - port, address, folder and a callback per message
 */
export async function startCaptureSink(options: CaptureSinkOptions = {}): Promise<CaptureSink> {
  const { SMTPServer } = await loadSmtpServer();
  const host = options.host ?? '127.0.0.1';
  if (options.dir !== undefined) await mkdir(options.dir, { recursive: true });
  const messages: CapturedMessage[] = [];
  const faults = new Map<string, { code: number; text: string }[]>();
  const sockets = new Set<Socket>();
  let waiters: Waiter[] = [];
  let seq = 0;
  const login = options.auth;

  /** Runs `onMessage`; what it throws (a failed `expect`, say) becomes a process warning, never a stalled sink. */
  const notify = (message: CapturedMessage): void => {
    try {
      options.onMessage?.(message);
    } catch (error) {
      process.emitWarning(`capture sink: onMessage threw for message ${message.seq}: ${String(error)}`);
    }
  };

  const settle = (): void => {
    const ready = waiters.filter((waiter) => messages.length >= waiter.count);
    if (ready.length === 0) return;
    waiters = waiters.filter((waiter) => messages.length < waiter.count);
    for (const waiter of ready) {
      clearTimeout(waiter.timer);
      waiter.resolve(messages.slice(0, waiter.count));
    }
  };

  const server = new SMTPServer({
    logger: false,
    authOptional: login === undefined,
    disabledCommands: login === undefined ? ['AUTH', 'STARTTLS'] : ['STARTTLS'],
    ...(login === undefined ? {} : { authMethods: ['PLAIN', 'LOGIN'], allowInsecureAuth: true }),
    onAuth(auth, _session, callback) {
      if (login !== undefined && auth.username === login.username && auth.password === login.password) {
        return callback(null, { user: auth.username });
      }
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    disableReverseLookup: true,
    onRcptTo(address, _session, callback) {
      const queue = faults.get(address.address.toLowerCase());
      const fault = queue?.shift();
      if (fault === undefined) return callback();
      const error = Object.assign(new Error(fault.text), { responseCode: fault.code });
      return callback(error);
    },
    onData(stream: Readable, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const envelope = session.envelope;
        const lines = headerLines(raw);
        seq++;
        const message: CapturedMessage = {
          seq,
          from: envelope.mailFrom === false ? '' : envelope.mailFrom.address,
          to: envelope.rcptTo.map((r) => r.address),
          subject: rawHeader(lines, 'subject') ?? '',
          raw,
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
          header(name) {
            const value = rawHeader(lines, name);
            return value === undefined ? undefined : decodeHeader(value);
          },
        };
        if (options.dir !== undefined)
          message.file = join(options.dir, fileName(message.seq, message.subject));
        const save = message.file === undefined ? Promise.resolve() : writeFile(message.file, raw);
        save.then(
          () => {
            messages.push(message);
            settle();
            callback(null, `OK: saved as message ${message.seq}`);
            notify(message);
          },
          (error: unknown) => callback(error as Error),
        );
      });
    },
  });
  server.on('error', () => undefined); // a client that drops its connection is not the sink's problem
  const net = server.server;
  net.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = net.address() as AddressInfo;

  return {
    host,
    port,
    ...(login === undefined ? {} : { auth: { ...login } }),
    messages,
    failNext(recipient, code, text = 'Try again later') {
      const key = recipient.toLowerCase();
      const queue = faults.get(key) ?? [];
      queue.push({ code, text });
      faults.set(key, queue);
    },
    waitFor(count, { timeoutMs = DEFAULT_WAIT_MS } = {}) {
      if (messages.length >= count) return Promise.resolve(messages.slice(0, count));
      return new Promise<CapturedMessage[]>((resolve, reject) => {
        const waiter: Waiter = { count, resolve, reject, timer: undefined };
        // setTimeout takes at most 2^31 - 1 ms; beyond that (Infinity included) the wait has no limit
        if (timeoutMs < MAX_TIMER_MS) {
          waiter.timer = setTimeout(() => {
            waiters = waiters.filter((other) => other !== waiter);
            reject(waitTimedOut(count, timeoutMs, messages));
          }, timeoutMs);
        }
        waiters.push(waiter);
      });
    },
    clear() {
      messages.length = 0;
      faults.clear();
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`The capture sink was cleared while waiting for ${waiter.count} message(s)`));
      }
      waiters = [];
    },
    close() {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`The capture sink closed while waiting for ${waiter.count} message(s)`));
      }
      waiters = [];
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}
