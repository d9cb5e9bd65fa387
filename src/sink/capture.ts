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
}

/** Options of {@link startCaptureSink}. */
export interface CaptureSinkOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** Folder to save every message in as `NNNN-<subject>.eml`; none: keep them in memory only. */
  dir?: string;
  /** Called for every message accepted. */
  onMessage?: (message: CapturedMessage) => void;
}

/** A running capture sink. */
export interface CaptureSink {
  /** The address it listens on. */
  host: string;
  /** The port it listens on. */
  port: number;
  /** Every message accepted, in order. */
  messages: CapturedMessage[];
  /** Answers the next attempt for `recipient` with this SMTP code at RCPT TO (e.g. 451 to test a retry). */
  failNext(recipient: string, code: number, text?: string): void;
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

function subjectOf(raw: Buffer): string {
  const head = raw.subarray(0, Math.min(raw.length, 64 * 1024)).toString('utf8');
  const end = head.search(/\r?\n\r?\n/);
  const headers = (end === -1 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  return /^subject:[ \t]*(.*)$/im.exec(headers)?.[1]?.trim() ?? '';
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

  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
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
        const message: CapturedMessage = {
          seq: messages.length + 1,
          from: envelope.mailFrom === false ? '' : envelope.mailFrom.address,
          to: envelope.rcptTo.map((r) => r.address),
          subject: subjectOf(raw),
          raw,
        };
        messages.push(message);
        if (options.dir !== undefined)
          message.file = join(options.dir, fileName(message.seq, message.subject));
        const save = message.file === undefined ? Promise.resolve() : writeFile(message.file, raw);
        save.then(
          () => {
            options.onMessage?.(message);
            callback(null, `OK: saved as message ${message.seq}`);
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
    messages,
    failNext(recipient, code, text = 'Try again later') {
      const key = recipient.toLowerCase();
      const queue = faults.get(key) ?? [];
      queue.push({ code, text });
      faults.set(key, queue);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => net.close(() => resolve()));
    },
  };
}
