/**
 * `messenger-email sink`: a local SMTP server for development that accepts every message, saves it as `.eml` and
 * prints one line per message, until Ctrl+C.
 */
import { type CapturedMessage, decodeHeader, startCaptureSink } from '../sink/capture.js';

export { decodeHeader };

import { EXIT_OK } from './failure.js';
import { CliError, messageOf, type Output } from './output.js';
import { printable } from './terminal.js';

/** Arguments of `sink`. */
export interface SinkArgs {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on. */
  host: string;
  /** Folder to save messages in. */
  dir: string;
}

/** The default port of `sink`: a common port for development SMTP, needing no privileges. */
export const DEFAULT_SINK_PORT = 2525;

/**
 * Reads the `--port` value.
 *
 * @param value - as typed, or `undefined` for {@link DEFAULT_SINK_PORT}
 * @throws CliError when it is not a whole number from 0 to 65535
 */
export function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SINK_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) {
    throw new CliError(
      `--port must be a whole number from 0 to 65535 (0 picks a free port), not "${printable(value)}"`,
      {
        usage: true,
      },
    );
  }
  return port;
}

/**
 * The line printed for a message: `#3 from@a.org -> to@b.org "Subject" (saved as mail/0003-subject.eml)`.
 *
 * @param message - what the sink accepted
 */
export function describeCaptured(message: CapturedMessage): string {
  const saved = message.file === undefined ? '' : ` (saved as ${printable(message.file)})`;
  const from = message.from === '' ? '<>' : printable(message.from);
  const to = message.to.map(printable).join(', ');
  return `#${message.seq} ${from} -> ${to} "${printable(decodeHeader(message.subject))}"${saved}`;
}

/** Why the sink could not listen, and what to do. */
function listenProblem(args: SinkArgs, error: unknown): string {
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  const where = `${printable(args.host)}:${args.port}`;
  if (syscall === 'mkdir') {
    return `cannot create the folder ${printable(args.dir)} (--dir) to save messages in (${printable(String(code))}): choose another with --dir`;
  }
  if (code === 'EADDRINUSE')
    return `cannot listen on ${where}: the port is in use; pick another with --port (0 picks a free one)`;
  if (code === 'EACCES')
    return `cannot listen on ${where}: permission denied; use a port above 1023, e.g. --port 2525`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return `cannot listen on ${where}: ${printable(args.host)} is not an address of this machine; use --host 127.0.0.1`;
  }
  return `cannot start the sink on ${where}: ${messageOf(error)}`;
}

/**
 * Runs `sink` until `signal` aborts (Ctrl+C or SIGTERM), then closes it.
 *
 * @param args - port, address and folder
 * @param output - where to write
 * @param signal - aborted to stop the sink
 * @returns 0 once stopped
 * @throws CliError when it cannot listen
 */
export async function runSink(args: SinkArgs, output: Output, signal: AbortSignal): Promise<number> {
  const sink = await startCaptureSink({
    port: args.port,
    host: args.host,
    dir: args.dir,
    onMessage: (message) => output.line(describeCaptured(message)),
  }).catch((error: unknown) => {
    throw new CliError(listenProblem(args, error));
  });
  output.line(
    `listening on ${printable(sink.host)}:${sink.port}, saving messages in ${printable(args.dir)} (Ctrl+C to stop)`,
  );
  if (args.host !== '127.0.0.1' && args.host !== 'localhost' && args.host !== '::1') {
    output.warn(
      `warning: listening on ${printable(args.host)}: other machines may be able to send mail to this sink`,
    );
  }
  if (!signal.aborted)
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  await sink.close();
  output.line(`stopped after ${sink.messages.length} message(s)`);
  return EXIT_OK;
}
