import { expect } from 'vitest';
import {
  type EmailSettings,
  Mailer,
  type MailerOptions,
  type OutgoingMail,
  type SendProgress,
  type Transport,
  type TransportResult,
} from '../../src/index.js';
import { SENDER } from './harness.js';

/** Settings of a Mailer whose transport is a test double: no server is reached. */
export const controlledSettings = {
  defaultSenderAddress: SENDER,
  smtpHost: 'smtp.district.k12.us',
  minutesBetweenRetries: 0,
};

/** The result a server gives when it accepts every recipient. */
export const ok = (mail: OutgoingMail): TransportResult => ({
  messageId: mail.headers['Message-ID'] ?? '',
  accepted: mail.to,
  rejected: [],
  response: '250 OK',
});

/** A transport whose every call waits until the test settles it. */
export class ControlledTransport implements Transport {
  calls: {
    mail: OutgoingMail;
    signal: AbortSignal | undefined;
    progress: SendProgress | undefined;
    resolve: (r: TransportResult) => void;
    reject: (e: Error) => void;
  }[] = [];
  closed = 0;
  constructor(readonly settings: EmailSettings) {}
  send(mail: OutgoingMail, signal?: AbortSignal, progress?: SendProgress): Promise<TransportResult> {
    return new Promise((resolve, reject) => this.calls.push({ mail, signal, progress, resolve, reject }));
  }
  close(): void {
    this.closed += 1;
  }
}

/** A Mailer whose every transport is a {@link ControlledTransport}, and the transports it made, in order. */
export function controlled(extra: Partial<MailerOptions> = {}) {
  const transports: ControlledTransport[] = [];
  const mailer = new Mailer({
    settings: controlledSettings,
    transport: (s) => {
      const t = new ControlledTransport(s);
      transports.push(t);
      return t;
    },
    ...extra,
  });
  return { mailer, transports };
}

/** Waits (real time, up to 3 s) until `check` holds: the throttle's pacer runs on real timers. */
export async function until(check: () => boolean) {
  for (let i = 0; i < 600 && !check(); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
}
