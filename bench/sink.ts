/**
 * The benchmark's SMTP sink, in a process of its own so that sender and receiver do not share a CPU budget:
 * plain SMTP on 127.0.0.1, no login, every message read and discarded. It records when each MAIL FROM arrives.
 * Talks to its parent over IPC: `{ cmd: 'reset' }`, `{ cmd: 'stats' }`.
 */
import { SMTPServer } from 'smtp-server';

const now = () => performance.timeOrigin + performance.now();
let mailFrom: number[] = [];
let messages = 0;
let bytes = 0;

const server = new SMTPServer({
  logger: false,
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  disableReverseLookup: true,
  maxClients: 1000,
  onMailFrom(_address, _session, callback) {
    mailFrom.push(now());
    callback();
  },
  onData(stream, _session, callback) {
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      messages += 1;
      callback();
    });
  },
});
server.on('error', () => undefined);

server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});

process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'reset') {
    mailFrom = [];
    messages = 0;
    bytes = 0;
    process.send?.({ ok: true });
  } else if (message.cmd === 'stats') {
    process.send?.({ mailFrom, messages, bytes });
  }
});
process.on('disconnect', () => process.exit(0));
