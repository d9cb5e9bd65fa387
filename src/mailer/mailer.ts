import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import {
  AttachmentTooLargeError,
  type CancelReason,
  DeliveryCancelledError,
  InvalidMessageError,
  isMailerError,
  MailerClosedError,
  NotConfiguredError,
} from '../errors.js';
import { type CheckedMessage, checkMessage, type MailMessage, type SendOptions } from '../message.js';
import { defaultIsRetryable } from '../retry.js';
import { afterFailure, mayAttemptAgain, retryDelayMs } from '../retry-policy.js';
import { scrubForeign, secretForms } from '../secrets.js';
import { type MessageKind, type ResolvedSender, resolveSender, type SenderContext } from '../sender.js';
import { DEFAULT_SMTP_PORT } from '../settings/defaults.js';
import { parseEmailSettings } from '../settings/parse.js';
import { type HostPolicy, resolvePolicy } from '../settings/policy.js';
import { redactSettings } from '../settings/redact.js';
import type { EmailSettings, EmailSettingsInput } from '../settings/schema.js';
import { diagnose } from '../transport/diagnose.js';
import { smtpTransport, tlsMode } from '../transport/smtp.js';
import type { OutgoingMail, TransportFactory } from '../transport/types.js';
import { showValue } from '../truncate.js';
import { type Clock, systemClock } from './clock.js';
import { attemptDeadlineMs, deadlineError } from './deadline.js';
import { deliveryReport } from './delivery-report.js';
import { attemptAttachments, type HeldAttachment, holdAttachments } from './held-attachments.js';
import { nextId, withMessageId } from './ids.js';
import { type StartPermit, Throttle } from './throttle.js';
import { type TransportSlot, TransportSlots } from './transport-slots.js';
import type { DeliveryReport, MailerEvents, MailerOptions, MailerStats, VerifyReport } from './types.js';
import { within } from './within.js';

/** One message from `send()` until it is delivered or cancelled. */
interface Job {
  readonly id: string;
  readonly kind: MessageKind;
  readonly context: SenderContext;
  /** The message without its attachments, which are held in `held` and measured again on every attempt. */
  readonly message: Omit<OutgoingMail, 'from'>;
  /** The attachments and their limits; emptied when attachments are turned off before an attempt. */
  held: HeldAttachment[];
  /** The bytes of the text and HTML bodies, measured at the first attempt (not while a backlog waits). */
  bodyBytes: number | undefined;
  readonly queuedAt: number;
  readonly resolve: (report: DeliveryReport) => void;
  readonly reject: (error: Error) => void;
  sender: ResolvedSender;
  /** The settings `sender` was resolved with: resolved again only when they change. */
  resolvedWith: EmailSettings;
  state: 'queued' | 'sending' | 'waiting' | 'done';
  attempts: number;
  failures: number;
  failedAt: number;
  retryTimer: unknown;
  lastError: Error | undefined;
  overLimit: AttachmentTooLargeError | undefined;
}

/** A message checked by `send()` on its way into the queue. */
interface Admission {
  readonly id: string;
  readonly kind: MessageKind;
  readonly context: SenderContext;
  readonly sender: ResolvedSender;
  readonly checked: CheckedMessage;
  readonly settings: EmailSettings;
}

/** Attachments as they will be held, and the names of those left out. */
interface PreparedAttachments {
  held: HeldAttachment[];
  dropped: string[];
}

const ignore = (): void => undefined;

/** The bytes of a message's text and HTML bodies. */
function bodyBytes(message: { text?: string; html?: string }): number {
  return Buffer.byteLength(message.text ?? '') + Buffer.byteLength(message.html ?? '');
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
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
 * Sends email as the Email Settings say: resolves each message's sender, enforces the attachment rules, spaces
 * attempts by the throttle, bounds every wait by the SMTP Timeout, retries after Minutes Between Retries and
 * cancels after Max Errors Before Cancel. Emergency messages go ahead of every waiting standard one.
 *
 * Subscribe to its events (see {@link MailerEvents}) to follow every message. A listener that throws or rejects
 * does not affect delivery. Neither events, errors, `util.inspect` nor `JSON.stringify` show the SMTP password.
 *
 * @example
 * ```ts
 * const mailer = new Mailer({ settings: { defaultSenderAddress: 'messenger@district.k12.us', smtpHost: 'smtp.district.k12.us' } });
 * mailer.on('failed', (e) => console.warn(e.id, e.error.message));
 * const report = await mailer.send({ to: 'parent@example.org', subject: 'Attendance', text: 'Hello' });
 * await mailer.close();
 * ```
 */
export class Mailer extends EventEmitter<MailerEvents> {
  readonly #policy: HostPolicy;
  readonly #factory: TransportFactory;
  readonly #clock: Clock;
  readonly #isRetryable: (error: unknown) => boolean;
  readonly #onListenerError: ((error: unknown, event: keyof MailerEvents) => void) | undefined;
  readonly #maxConcurrent: number;
  readonly #implicitTlsPorts: readonly number[] | undefined;
  #jobs = new Map<string, Job>();
  /** Resolves `close()`'s wait once no attempt is in progress. */
  #quiet: (() => void) | undefined;
  readonly #transports: TransportSlots;
  /** Messages whose attachments are still being measured by `send()`: `close()` waits for them. */
  readonly #admitting = new Set<Promise<void>>();
  #throttle: Throttle<Job> | undefined;
  #settings: EmailSettings | undefined;
  #secrets: string[] = [];
  #sending = 0;
  #waitingRetry = 0;
  #sent = 0;
  #cancelled = 0;
  #busy = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @param options - settings, policy, transport and tuning; all optional
   * @throws EmailSettingsError when `options.settings` is given and not valid, or `options.policy` is not valid
   * @throws TypeError when `maxConcurrent` is not a whole number of at least 1
   */
  constructor(options: MailerOptions = {}) {
    super();
    this.#policy = resolvePolicy(options.policy); // once: every message reuses the checked, frozen policy
    this.#clock = options.clock ?? systemClock;
    this.#transports = new TransportSlots(
      this.#clock,
      () => (this.#settings?.smtpTimeoutSeconds ?? 30) * 1000,
    );
    this.#isRetryable = options.isRetryable ?? defaultIsRetryable;
    this.#onListenerError = options.onListenerError;
    this.#maxConcurrent = positiveInteger('maxConcurrent', options.maxConcurrent, 5);
    const tls = options.tls;
    this.#implicitTlsPorts = tls?.implicitTlsPorts;
    const maxConnections = this.#maxConcurrent;
    this.#factory =
      options.transport ??
      ((settings) =>
        smtpTransport(settings, tls === undefined ? { maxConnections } : { tls, maxConnections }));
    if (options.settings !== undefined) this.#apply(parseEmailSettings(options.settings, this.#policy));
  }

  /** Whether the Mailer has valid settings and can send. */
  get configured(): boolean {
    return this.#settings !== undefined;
  }

  /**
   * Validates new settings and applies them at once, to new and pending messages: new attempts use a new transport
   * (the old one closes when its attempts finish), the throttle changes within a second, and waiting retries are
   * rescheduled by the new Minutes Between Retries (or cancelled when they have reached the new Max Errors Before
   * Cancel). Emits `settingsChanged` with the password redacted.
   *
   * @param settings - the new Email Settings
   * @returns the parsed settings
   * @throws EmailSettingsError when they are not valid (nothing changes)
   * @throws MailerClosedError after {@link Mailer.close}
   */
  configure(settings: EmailSettingsInput): EmailSettings {
    if (this.#closed) throw new MailerClosedError();
    const parsed = parseEmailSettings(settings, this.#policy);
    this.#apply(parsed);
    this.#rescheduleRetries(parsed);
    this.#emit('settingsChanged', { settings: redactSettings(parsed) });
    return parsed;
  }

  /**
   * Queues a message and resolves once the server has accepted it.
   *
   * The sender is resolved from the settings and `options` (emergency messages always use the default sender).
   * Attachments are dropped when not allowed (`attachmentsDropped`); one over its limit rejects at once.
   *
   * The returned promise never causes an unhandled rejection: a caller that follows messages through events
   * alone may ignore it.
   *
   * @param message - recipients, subject, body, attachments, headers
   * @param options - kind, Census and custom sender, and the caller's id
   * @throws NotConfiguredError, MailerClosedError, InvalidMessageError, InvalidSenderError, AttachmentTooLargeError
   *   before anything is queued
   * @throws DeliveryCancelledError when the message is given up (`reason`, `attempts`, `cause`)
   * @throws AttachmentTooLargeError when a streamed attachment runs over its limit while sending
   */
  send(message: MailMessage, options: SendOptions = {}): Promise<DeliveryReport> {
    const promise = this.#enqueue(message, options);
    promise.catch(ignore);
    return promise;
  }

  /**
   * Checks the settings against the server without sending: connect, TLS, login. Resolves with what is wrong, in
   * terms an administrator can act on; never rejects. The whole check is bounded by the SMTP Timeout (stage
   * `'timeout'`). Without settings, or after {@link Mailer.close}, it reports stage `'config'`; a plugged-in
   * transport without a `verify` method is reported as `ok`.
   */
  async verify(): Promise<VerifyReport> {
    if (this.#closed) {
      return {
        ok: false,
        stage: 'config',
        message: 'The mailer is closed',
        hint: 'Check the settings with a Mailer that is not closed (verify() before close(), or a new Mailer).',
      };
    }
    const settings = this.#settings;
    if (settings === undefined) {
      return {
        ok: false,
        stage: 'config',
        message: 'Email is not configured',
        hint: 'Fill in at least Default Sender Email Address and SMTP Host on the Email Settings screen.',
      };
    }
    const slot = this.#transports.current as TransportSlot;
    const limitMs = settings.smtpTimeoutSeconds * 1000;
    try {
      await within(
        Promise.resolve().then(() => slot.transport.verify?.()),
        limitMs,
        this.#clock,
        () =>
          Object.assign(
            new Error(`The check did not finish within the SMTP Timeout (${settings.smtpTimeoutSeconds} s)`),
            { code: 'ETIMEDOUT' },
          ),
      );
    } catch (error) {
      const found = diagnose(scrubForeign(error, this.#secrets), settings);
      return { ok: false, ...found };
    }
    return {
      ok: true,
      host: settings.smtpHost,
      port: settings.smtpPort ?? DEFAULT_SMTP_PORT,
      tls: tlsMode(settings, this.#implicitTlsPorts),
      authenticated: settings.useAuthentication,
    };
  }

  /** Counts of messages by state. */
  stats(): MailerStats {
    return {
      queued: this.#throttle?.waiting ?? 0,
      sending: this.#sending,
      waitingRetry: this.#waitingRetry,
      sent: this.#sent,
      cancelled: this.#cancelled,
    };
  }

  /**
   * Stops taking messages (`send()` then rejects with `MailerClosedError`, and so does a `send()` still measuring
   * its attachments), lets attempts in progress finish, cancels every waiting message with reason `closed`, and
   * closes the transport. Resolves when every message has settled; a transport that takes longer than the SMTP
   * Timeout to close is left to finish on its own. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /**
   * Emits an event to every listener, each on its own: a listener that throws or rejects is reported to
   * `onListenerError` and the others still run.
   */
  override emit<E extends keyof MailerEvents>(event: E, ...args: MailerEvents[E]): boolean {
    const handlers = (this as unknown as { _events: Record<string, unknown> })._events[event as string];
    if (handlers === undefined) return false;
    type Handler = { fn: (...a: unknown[]) => unknown; context: unknown; once: boolean };
    const list = (Array.isArray(handlers) ? [...handlers] : [handlers]) as Handler[];
    for (const handler of list) {
      if (handler.once) this.removeListener(event, handler.fn as never, undefined, true);
      try {
        const result = handler.fn.apply(handler.context, args);
        if (result instanceof Promise) result.catch((error: unknown) => this.#listenerFailed(error, event));
      } catch (error) {
        this.#listenerFailed(error, event);
      }
    }
    return true;
  }

  /** @returns a summary without secrets */
  toJSON(): object {
    return {
      configured: this.configured,
      closed: this.#closed,
      settings: this.#settings === undefined ? undefined : redactSettings(this.#settings),
      stats: this.stats(),
    };
  }

  /** @returns a summary without secrets, for `util.inspect` and `console.log` */
  [inspect.custom](_depth: number, options: object): string {
    return `Mailer ${inspect(this.toJSON(), options)}`;
  }

  /** Reports a listener's failure to `onListenerError`, or as a `listenerError` event; never throws. */
  #listenerFailed(error: unknown, event: keyof MailerEvents): void {
    try {
      if (this.#onListenerError !== undefined) this.#onListenerError(error, event);
      else if (event !== 'listenerError') this.emit('listenerError', { event, error });
    } catch {
      // the reporter itself failed: delivery must go on regardless
    }
  }

  /** Whether anyone listens to `event`: payloads are built only for events someone will receive. */
  #wants(event: keyof MailerEvents): boolean {
    return (this as unknown as { _events: Record<string, unknown> })._events[event] !== undefined;
  }

  #emit<E extends keyof MailerEvents>(event: E, ...args: MailerEvents[E]): void {
    this.emit(event, ...args);
  }

  #apply(settings: EmailSettings): void {
    const secrets = secretForms(settings.username, settings.password);
    this.#settings = settings;
    this.#secrets = secrets;
    this.#transports.replace(this.#factory(settings), secrets);
    const limits = { perSecond: settings.throttlePerSecond, maxConcurrent: this.#maxConcurrent };
    if (this.#throttle === undefined) {
      this.#throttle = new Throttle<Job>(limits, this.#clock, (job, permit) => this.#attempt(job, permit));
    } else {
      this.#throttle.update(limits);
    }
  }

  /** Checks and queues a message; synchronous unless an attachment must be measured on disk. */
  #enqueue(message: MailMessage, options: SendOptions): Promise<DeliveryReport> {
    try {
      if (this.#closed) throw new MailerClosedError();
      const settings = this.#settings;
      if (settings === undefined) throw new NotConfiguredError();
      const checked = checkMessage(message);
      const { kind, id } = this.#checkOptions(options);
      const context: SenderContext = {
        kind,
        censusAddress: options.censusAddress ?? null,
        customSender: options.customSender ?? null,
      };
      const sender = resolveSender(settings, context, this.#policy);
      const admission: Admission = { id, kind, context, sender, checked, settings };
      const prepared = this.#prepareAttachments(checked, settings);
      if (prepared instanceof Promise) return this.#admitWhenMeasured(admission, prepared);
      return this.#admit(admission, prepared);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Queues a message once its files are measured. `close()` waits for the measuring; a message still being
   * measured when the Mailer closes is refused with `MailerClosedError`, as it was never queued.
   */
  #admitWhenMeasured(admission: Admission, prepared: Promise<PreparedAttachments>): Promise<DeliveryReport> {
    // boxed, so that the admission settles when the message is queued, not when it is delivered
    const admitted = prepared.then((attachments) => ({ delivery: this.#admit(admission, attachments) }));
    const settled = admitted.then(ignore, ignore);
    this.#admitting.add(settled);
    void settled.then(() => this.#admitting.delete(settled));
    return admitted.then((box) => box.delivery);
  }

  /** Queues a checked message: the job is created, `queued` emitted and the throttle told. */
  #admit(admission: Admission, prepared: PreparedAttachments): Promise<DeliveryReport> {
    const { id, kind, context, sender, checked, settings } = admission;
    if (this.#closed) throw new MailerClosedError();
    if (this.#jobs.has(id)) {
      throw new InvalidMessageError(`A message with id ${showValue(id)} is already pending: use a unique id`);
    }
    let resolve!: (report: DeliveryReport) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<DeliveryReport>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    const domain = settings.defaultSenderAddress.split('@').pop() ?? 'localhost';
    const job: Job = {
      id,
      kind,
      context,
      message: {
        to: checked.to,
        cc: checked.cc,
        bcc: checked.bcc,
        subject: checked.subject,
        attachments: [],
        headers: withMessageId(checked.headers, domain),
        ...(checked.replyTo !== undefined ? { replyTo: checked.replyTo } : {}),
        ...(checked.text !== undefined ? { text: checked.text } : {}),
        ...(checked.html !== undefined ? { html: checked.html } : {}),
      },
      held: prepared.held,
      bodyBytes: undefined,
      queuedAt: this.#clock.now(),
      resolve,
      reject,
      sender,
      resolvedWith: settings,
      state: 'queued',
      attempts: 0,
      failures: 0,
      failedAt: 0,
      retryTimer: undefined,
      lastError: undefined,
      overLimit: undefined,
    };
    this.#jobs.set(id, job);
    this.#busy = true;
    if (this.#wants('queued')) this.#emit('queued', { id, kind, sender, recipients: checked.recipients });
    if (prepared.dropped.length > 0) this.#emit('attachmentsDropped', { id, filenames: prepared.dropped });
    if (this.#closed) {
      // a listener closed the Mailer: the message was accepted, so it is cancelled like every other waiting one
      this.#cancel(job, 'closed', new MailerClosedError('The mailer was closed before the message was sent'));
      return promise;
    }
    (this.#throttle as Throttle<Job>).push(job, kind === 'emergency');
    return promise;
  }

  #checkOptions(options: SendOptions): { kind: MessageKind; id: string } {
    if (typeof options !== 'object' || options === null)
      throw new InvalidMessageError('Send options must be an object');
    const kind = options.kind ?? 'standard';
    if (kind !== 'standard' && kind !== 'emergency') {
      throw new InvalidMessageError(
        `kind must be 'standard' or 'emergency' (received ${showValue(String(kind))})`,
      );
    }
    const id = options.id ?? nextId();
    if (typeof id !== 'string' || id.trim() === '')
      throw new InvalidMessageError('id must be non-empty text');
    return { kind, id };
  }

  /**
   * Applies the attachment settings at send time: drop all, or check each file's real size against its limit.
   * Synchronous unless a `path` must be measured on disk.
   */
  #prepareAttachments(
    checked: CheckedMessage,
    settings: EmailSettings,
  ): PreparedAttachments | Promise<PreparedAttachments> {
    if (checked.attachments.length === 0) return { held: [], dropped: [] };
    if (!settings.allowAttachments) return { held: [], dropped: checked.attachments.map((a) => a.filename) };
    const held = holdAttachments(checked.attachments, settings, this.#policy);
    if (held instanceof Promise) return held.then((list) => ({ held: list, dropped: [] }));
    return { held, dropped: [] };
  }

  /** One attempt, started by the throttle. Never rejects. */
  #attempt(job: Job, permit: StartPermit): Promise<void> {
    return this.#runAttempt(job, permit);
  }

  /** Whether the job can be attempted now; if not, it is settled and the throttle's place given back. */
  #ready(job: Job, permit: StartPermit, settings: EmailSettings): boolean {
    if (job.state !== 'queued') {
      permit.release();
      return false;
    }
    let cancelled: [CancelReason, Error] | undefined;
    if (!mayAttemptAgain(job.failures, settings)) {
      cancelled = ['max-errors', job.lastError ?? new Error('Max Errors Before Cancel was lowered')];
    } else if (job.resolvedWith !== settings) {
      try {
        job.sender = resolveSender(settings, job.context, this.#policy);
        job.resolvedWith = settings;
      } catch (error) {
        cancelled = ['permanent', toError(error)]; // the settings changed and the custom sender is no longer valid
      }
    }
    if (cancelled === undefined) return true;
    permit.release();
    this.#cancel(job, ...cancelled);
    this.#checkIdle();
    return false;
  }

  async #runAttempt(job: Job, permit: StartPermit): Promise<void> {
    const settings = this.#settings as EmailSettings;
    if (!this.#ready(job, permit, settings)) return;
    // counted as sending before any listener runs, so that close() from a listener waits for this attempt
    const slot = this.#transports.begin();
    job.state = 'sending';
    job.attempts += 1;
    job.overLimit = undefined;
    this.#sending += 1;
    const watchdog = new AbortController();
    let timer: unknown;
    let handedOver = false;
    try {
      if (!settings.allowAttachments && job.held.length > 0) {
        const filenames = job.held.map((held) => held.attachment.filename);
        job.held = [];
        this.#emit('attachmentsDropped', { id: job.id, filenames });
      }
      if (this.#wants('sending')) this.#emit('sending', { id: job.id, attempt: job.attempts });
      const measured = attemptAttachments(job.held, (error) => {
        job.overLimit = error;
      });
      const { attachments, bytes } = measured instanceof Promise ? await measured : measured;
      const mail: OutgoingMail = { from: job.sender.address, ...job.message, attachments };
      const { to, cc, bcc } = job.message;
      job.bodyBytes ??= bodyBytes(job.message);
      const deadline = attemptDeadlineMs(
        to.length + cc.length + bcc.length,
        settings.smtpTimeoutSeconds,
        bytes + job.bodyBytes,
      );
      const progress = { started: () => permit.started() };
      handedOver = true;
      const result = await new Promise<unknown>((resolve, reject) => {
        timer = this.#clock.setTimeout(() => {
          const error = deadlineError(deadline);
          watchdog.abort(error);
          reject(error); // settles even when the transport ignores the signal
        }, deadline);
        slot.transport.send(mail, watchdog.signal, progress).then(resolve, reject);
      });
      const report = deliveryReport(job, result);
      if (report === undefined) {
        this.#failed(
          job,
          new Error(
            'The transport resolved without a valid result (messageId, accepted, rejected, response)',
          ),
          false,
        );
      } else {
        this.#delivered(job, report);
      }
    } catch (raw) {
      if (!handedOver) permit.release(); // nothing reached the server
      const error = job.overLimit ?? scrubForeign(raw, [...slot.secrets, ...this.#secrets]);
      this.#failed(job, error);
    } finally {
      this.#clock.clearTimeout(timer);
      this.#sending -= 1;
      if (this.#sending === 0) this.#quiet?.();
      this.#transports.end(slot);
      this.#checkIdle();
    }
  }

  #delivered(job: Job, report: DeliveryReport): void {
    job.state = 'done';
    this.#jobs.delete(job.id);
    this.#sent += 1;
    if (this.#wants('sent')) this.#emit('sent', { ...report, durationMs: this.#clock.now() - job.queuedAt });
    job.resolve(report);
  }

  #retryable(error: Error): boolean {
    if (error instanceof AttachmentTooLargeError || isMailerError(error)) return false;
    try {
      return this.#isRetryable(error) === true;
    } catch {
      return defaultIsRetryable(error);
    }
  }

  #failed(job: Job, error: Error, retryable = this.#retryable(error)): void {
    const settings = this.#settings as EmailSettings; // the settings in force now, not when the attempt began
    job.failures += 1;
    job.lastError = error;
    const next = afterFailure(job.failures, retryable, this.#closed, settings);
    if (!next.retry) {
      job.state = 'done';
      this.#emit('failed', { id: job.id, attempt: job.attempts, error, retryable, willRetry: false });
      this.#cancel(job, next.reason, error);
      return;
    }
    job.failedAt = this.#clock.now();
    const delay = next.delayMs;
    job.state = 'waiting';
    this.#waitingRetry += 1;
    // Scheduled before the event, so that a listener that reconfigures or closes acts on the one timer there is.
    if (delay > 0) this.#waitForRetry(job, delay);
    this.#emit('failed', {
      id: job.id,
      attempt: job.attempts,
      error,
      retryable,
      willRetry: true,
      nextAttemptAt: job.failedAt + delay,
    });
    // Due at once: queued only now, so that its next `sending` never comes before this `failed`.
    if (job.state === 'waiting' && job.retryTimer === undefined) this.#retryDue(job);
  }

  /** Schedules a waiting job's retry, replacing any timer it had; 0 or less means the next free slot, at once. */
  #waitForRetry(job: Job, delay: number): void {
    this.#clock.clearTimeout(job.retryTimer);
    job.retryTimer = undefined;
    if (job.state !== 'waiting') return;
    if (delay <= 0) {
      this.#retryDue(job);
      return;
    }
    job.retryTimer = this.#clock.setTimeout(() => {
      job.retryTimer = undefined;
      this.#retryDue(job);
    }, delay);
  }

  #retryDue(job: Job): void {
    if (job.state !== 'waiting' || this.#closed) return;
    this.#clock.clearTimeout(job.retryTimer);
    job.retryTimer = undefined;
    this.#waitingRetry -= 1;
    job.state = 'queued';
    (this.#throttle as Throttle<Job>).push(job, job.kind === 'emergency');
  }

  #rescheduleRetries(settings: EmailSettings): void {
    for (const job of this.#jobs.values()) {
      if (job.state !== 'waiting') continue;
      if (!mayAttemptAgain(job.failures, settings)) {
        this.#clock.clearTimeout(job.retryTimer);
        job.retryTimer = undefined;
        this.#waitingRetry -= 1;
        job.state = 'done';
        this.#cancel(job, 'max-errors', job.lastError ?? new Error('Max Errors Before Cancel was lowered'));
        continue;
      }
      const due = job.failedAt + retryDelayMs(settings);
      this.#waitForRetry(job, due - this.#clock.now());
    }
    this.#checkIdle();
  }

  #cancel(job: Job, reason: CancelReason, error: Error): void {
    job.state = 'done';
    this.#jobs.delete(job.id);
    this.#cancelled += 1;
    this.#emit('cancelled', { id: job.id, attempts: job.attempts, reason, error });
    if (reason === 'permanent' && error instanceof AttachmentTooLargeError) {
      job.reject(error);
      return;
    }
    job.reject(
      new DeliveryCancelledError(this.#cancelMessage(job, reason, error), job.attempts, reason, error),
    );
  }

  #cancelMessage(job: Job, reason: CancelReason, error: Error): string {
    const tries = `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`;
    const id = showValue(job.id, { quote: false });
    if (reason === 'closed') return `Message ${id} was cancelled after ${tries} because the mailer closed`;
    if (reason === 'permanent') {
      return `Message ${id} was refused for good after ${tries} and will not be retried: ${error.message}`;
    }
    return `Message ${id} was cancelled after ${tries}, the Max Errors Before Cancel: ${error.message}`;
  }

  #checkIdle(): void {
    if (!this.#busy) return;
    if ((this.#throttle?.waiting ?? 0) + this.#sending + this.#waitingRetry > 0) return;
    this.#busy = false;
    if (this.#jobs.size === 0) this.#jobs = new Map(); // a map that held a deep backlog keeps its capacity
    this.#emit('idle');
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#admitting]); // each is refused now that the Mailer is closed
    const closedError = new MailerClosedError('The mailer was closed before the message was sent');
    for (const job of this.#throttle?.drain() ?? []) {
      this.#cancel(job, 'closed', job.lastError ?? closedError);
    }
    for (const job of [...this.#jobs.values()]) {
      if (job.state !== 'waiting') continue;
      this.#clock.clearTimeout(job.retryTimer);
      this.#waitingRetry -= 1;
      this.#cancel(job, 'closed', job.lastError ?? closedError);
    }
    await this.#throttle?.stop();
    if (this.#sending > 0) {
      await new Promise<void>((resolve) => {
        this.#quiet = resolve;
      });
    }
    await this.#transports.closeAll();
    this.#checkIdle();
  }
}
