import { inspect } from 'node:util';
import {
  type EmailSettingsInput,
  Mailer,
  type MailerEvents,
  type MailerOptions,
  type SmtpTransportOptions,
  smtpTransport,
  type TransportFactory,
} from '../../src/index.js';
import { type SinkOptions, type SmtpSink, startSmtpSink } from './smtp-sink.js';

/** Every event a Mailer emitted, in order, with the time it was seen. */
export type Recorded = {
  [E in keyof MailerEvents]: { event: E; at: number; payload: MailerEvents[E][0] };
}[keyof MailerEvents];

export interface Harness {
  sink: SmtpSink;
  mailer: Mailer;
  events: Recorded[];
  /** Payloads of one event, in order. */
  of<E extends keyof MailerEvents>(event: E): MailerEvents[E][0][];
  /** Everything the mailer said, as text, for secret checks. */
  everything(): string;
  close(): Promise<void>;
}

export const SENDER = 'messenger@district.k12.us';

/** Settings that point at a sink: its port, TLS when the sink speaks it, throttle wide open, retries at once. */
export function sinkSettings(sink: SmtpSink, extra: Partial<EmailSettingsInput> = {}): EmailSettingsInput {
  return {
    defaultSenderAddress: SENDER,
    smtpHost: '127.0.0.1',
    smtpPort: sink.port,
    useTls: sink.mode !== 'plain',
    throttlePerSecond: 999,
    minutesBetweenRetries: 0,
    ...extra,
  };
}

/** The SMTP transport against a sink: its CA trusted, short timeouts. */
export function sinkTransport(sink: SmtpSink, extra: SmtpTransportOptions = {}): TransportFactory {
  return (settings) => smtpTransport(settings, { tls: { ca: sink.ca }, timeoutMs: 1500, ...extra });
}

/** Starts a sink and a Mailer aimed at it, recording every event. */
export async function startHarness(
  options: {
    sink?: SinkOptions;
    settings?: Partial<EmailSettingsInput>;
    mailer?: Partial<MailerOptions>;
  } = {},
): Promise<Harness> {
  const sink = await startSmtpSink(options.sink);
  const errors: unknown[] = [];
  const mailer = new Mailer({
    settings: sinkSettings(sink, options.settings),
    transport: sinkTransport(sink),
    onListenerError: (error) => errors.push(error),
    ...options.mailer,
  });
  const events: Recorded[] = [];
  const names: (keyof MailerEvents)[] = [
    'queued',
    'sending',
    'sent',
    'failed',
    'cancelled',
    'attachmentsDropped',
    'settingsChanged',
    'idle',
  ];
  for (const event of names) {
    mailer.on(event, (payload?: unknown) => {
      events.push({ event, at: performance.now(), payload } as Recorded);
    });
  }
  return {
    sink,
    mailer,
    events,
    of: (event) => events.filter((e) => e.event === event).map((e) => e.payload) as never,
    everything: () =>
      events
        .map(
          (e) => `${e.event} ${inspect(e.payload, { depth: 10, showHidden: true })} ${safeJson(e.payload)}`,
        )
        .join('\n'),
    close: async () => {
      await mailer.close();
      await sink.close();
    },
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v) =>
      v instanceof Error ? { ...v, message: v.message, stack: v.stack } : v,
    );
  } catch {
    return '';
  }
}
