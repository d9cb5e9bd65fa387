import { afterEach, describe, expect, it } from 'vitest';
import { Mailer } from '../src/index.js';
import { sinkSettings, sinkTransport } from './support/harness.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';

/** TCP sockets of this process that are not the sink's own side of a connection. */
function clientSockets(sink: SmtpSink): number {
  const sockets = process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
  return sockets - sink.openConnections;
}

describe('smtpTransport close', () => {
  let sink: SmtpSink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  it('has released every connection, opening ones included, when the Mailer’s close() resolves', async () => {
    sink = await startSmtpSink();
    const before = clientSockets(sink);
    const mailer = new Mailer({
      settings: sinkSettings(sink),
      transport: sinkTransport(sink, { maxMessagesPerConnection: 1 }),
    });
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => mailer.send({ to: `r${i}@example.org`, subject: 'm', text: 'x' })),
    );
    // each connection carried its one message and is being replaced: new ones wait for the sink's greeting
    await mailer.close();
    expect(clientSockets(sink)).toBe(before);
  });
});
