/**
 * The fault soak's SMTP server, in a process of its own so that its event loop is not the sender's: plain SMTP on
 * 127.0.0.1, no login. Each attempt addressed to a recipient meets the fault the plan gives for that attempt (see
 * soak-plan.ts). It records every MAIL FROM, every RCPT TO and every message it accepted, with its Message-ID.
 * Talks to its parent over IPC: `{ cmd: 'start', faults }` clears the records and sets the plan, `{ cmd: 'report' }`
 * answers with a {@link SinkReport}. It exits when its parent goes.
 */
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { parseHeaders } from '../test/support/smtp-sink.js';
import {
  type AcceptedRecord,
  DATA_FAULTS,
  type RcptRecord,
  type SinkCommand,
  type SinkReport,
  type SoakFault,
} from './soak-plan.js';

type Callback = (error?: Error | null) => void;

const now = () => performance.timeOrigin + performance.now();

let faults = new Map<string, (SoakFault | null)[]>();
const seen = new Map<string, number>();
let mailFrom: number[] = [];
let rcpt: RcptRecord[] = [];
let accepted: AcceptedRecord[] = [];
let connections = 0;

/** The data-stage fault chosen at RCPT TO, and the attempt it belongs to, per session. */
const pending = new Map<string, { recipient: string; attempt: number; fault: SoakFault | null }>();

function refusal(code: number, text: string): Error {
  return Object.assign(new Error(`${text} (injected)`), { responseCode: code });
}

function destroy(session: SMTPServerSession): void {
  for (const connection of server.connections) {
    if (connection.id === session.id) connection._socket.destroy();
  }
}

const server = new SMTPServer({
  logger: false,
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  maxClients: 1000,
  onConnect(_session, callback) {
    connections += 1;
    callback();
  },
  onMailFrom(_address, session, callback) {
    mailFrom.push(now());
    pending.delete(session.id);
    callback();
  },
  onRcptTo(address, session, callback: Callback) {
    const recipient = address.address.toLowerCase();
    const attempt = (seen.get(recipient) ?? 0) + 1;
    seen.set(recipient, attempt);
    const fault = faults.get(recipient)?.[attempt - 1] ?? null;
    rcpt.push({ recipient, attempt, fault, at: now() });
    if (fault === 'rcpt-451') return callback(refusal(451, 'Temporary local problem, try again later'));
    if (fault === 'rcpt-421-close') return callback(refusal(421, 'Service not available, closing channel'));
    if (fault === 'rcpt-550') return callback(refusal(550, 'Mailbox unavailable'));
    if (fault === 'rcpt-stall') return; // never answered: the client's timeout ends the attempt
    pending.set(session.id, {
      recipient,
      attempt,
      fault: fault !== null && DATA_FAULTS.has(fault) ? fault : null,
    });
    callback();
  },
  onData(stream, session, callback: Callback) {
    const planned = pending.get(session.id);
    pending.delete(session.id);
    const fault = planned?.fault ?? null;
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      if (fault === 'data-drop-mid') {
        destroy(session); // the final dot is never read, so the message is never accepted
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      if (fault === 'data-drop-mid') return;
      if (fault === 'data-451') return callback(refusal(451, 'Temporary local problem, try again later'));
      if (fault === 'data-550') return callback(refusal(550, 'Message refused'));
      const messageId = parseHeaders(Buffer.concat(chunks)).get('message-id') ?? '';
      const reply = fault === 'data-drop-after' || fault === 'data-stall-after' ? fault : 'sent';
      const recipient = planned?.recipient ?? session.envelope.rcptTo[0]?.address.toLowerCase() ?? '';
      accepted.push({ recipient, messageId, attempt: planned?.attempt ?? 0, reply, at: now() });
      if (fault === 'data-drop-after') return destroy(session);
      if (fault === 'data-stall-after') return; // accepted, but the reply never comes
      callback();
    });
  },
  onClose(session) {
    pending.delete(session.id);
  },
});
server.on('error', () => undefined); // resets and timeouts are what this server is for

server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});

process.on('message', (message: SinkCommand) => {
  if (message.cmd === 'start') {
    faults = new Map(Object.entries(message.faults));
    seen.clear();
    mailFrom = [];
    rcpt = [];
    accepted = [];
    connections = 0;
    process.send?.({ ok: true });
  } else if (message.cmd === 'report') {
    const report: SinkReport = { mailFrom, rcpt, accepted, connections };
    process.send?.(report);
  }
});
process.on('disconnect', () => process.exit(0));
