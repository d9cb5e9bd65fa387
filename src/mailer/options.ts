import { memoryOutbox } from '../outbox/memory.js';
import type { Outbox } from '../outbox/types.js';
import { localPermits } from '../permits/local.js';
import type { StartPermits } from '../permits/types.js';
import { defaultIsRetryable } from '../retry.js';
import { type HostPolicy, resolvePolicy } from '../settings/policy.js';
import { type SmtpTransportOptions, smtpTransport } from '../transport/smtp.js';
import type { TransportFactory } from '../transport/types.js';
import { showValue } from '../truncate.js';
import { type Clock, systemClock } from './clock.js';
import type { MailerEvents, MailerOptions } from './types.js';

/** {@link MailerOptions} checked, with every default filled in. */
export interface ResolvedMailerOptions {
  readonly policy: HostPolicy;
  readonly clock: Clock;
  readonly isRetryable: (error: unknown) => boolean;
  readonly onListenerError: ((error: unknown, event: keyof MailerEvents) => void) | undefined;
  readonly maxConcurrent: number;
  readonly implicitTlsPorts: readonly number[] | undefined;
  readonly factory: TransportFactory;
  readonly outbox: Outbox;
  readonly permits: StartPermits;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(
      `MailerOptions.${name} must be a whole number of at least 1 (received ${showValue(String(value))})`,
    );
  }
  return value;
}

/**
 * Checks a Mailer's options and fills in the defaults: the host policy (checked and frozen once, so every message
 * reuses it), the system clock, the in-memory outbox, local start permits and the SMTP transport with as many
 * connections as attempts may run at once.
 *
 * @throws EmailSettingsError when `policy` is not valid; TypeError when `maxConcurrent` is not a whole number of
 *   at least 1
 */
export function resolveMailerOptions(options: MailerOptions): ResolvedMailerOptions {
  const policy = resolvePolicy(options.policy);
  const maxConcurrent = positiveInteger('maxConcurrent', options.maxConcurrent, 5);
  const tls = options.tls;
  const clock = options.clock ?? systemClock;
  const smtp: SmtpTransportOptions = { maxConnections: maxConcurrent, now: () => clock.now() };
  if (tls !== undefined) smtp.tls = tls;
  if (options.oauthEndpoints !== undefined) smtp.oauthEndpoints = options.oauthEndpoints;
  const factory: TransportFactory = options.transport ?? ((settings) => smtpTransport(settings, smtp));
  return {
    policy,
    clock,
    isRetryable: options.isRetryable ?? defaultIsRetryable,
    onListenerError: options.onListenerError,
    maxConcurrent,
    implicitTlsPorts: tls?.implicitTlsPorts,
    factory,
    outbox: options.outbox ?? memoryOutbox(),
    permits: options.permits ?? localPermits(),
  };
}
