import { inspect } from 'node:util';
import type { EventEmitter } from 'eventemitter3';
import { type CancelReason, MailerClosedError, NotConfiguredError } from '../errors.js';
import { checkMessage, type MailMessage, type SendOptions } from '../message.js';
import type {
  FinishedElsewhere,
  Outbox,
  OutboxEntry,
  OutboxHost,
  OutboxMessage,
  RecoveredMessage,
  Settlement,
} from '../outbox/types.js';
import type { StartPermit, StartPermits } from '../permits/types.js';
import { decideRetryable } from '../retry.js';
import { afterFailure, mayAttemptAgain, retryDelayMs } from '../retry-policy.js';
import { settingsSecretForms } from '../secrets.js';
import { type ResolvedSender, resolveSender } from '../sender.js';
import { parseEmailSettings } from '../settings/parse.js';
import type { HostPolicy } from '../settings/policy.js';
import { redactSettings } from '../settings/redact.js';
import type { EmailSettings, EmailSettingsInput } from '../settings/schema.js';
import type { TransportFactory } from '../transport/types.js';
import {
  checkSendOptions,
  outboxMessage,
  type PreparedAttachments,
  prepareAttachments,
} from './admission.js';
import { runAttempt } from './attempt.js';
import { cancellationError } from './cancellation.js';
import type { Clock } from './clock.js';
import { Dispatcher } from './dispatcher.js';
import { IsolatingEmitter } from './isolating-emitter.js';
import { resolveMailerOptions } from './options.js';
import { announceRecovered, announceResumed } from './resume.js';
import { TransportSlots } from './transport-slots.js';
import type {
  DeliveryReport,
  EnqueuedMessage,
  MailerEvents,
  MailerOptions,
  MailerStats,
  ResumeReport,
  VerifyOptions,
  VerifyReport,
} from './types.js';
import { verifyTransport } from './verify.js';
import { type Waiter, Waiters } from './waiters.js';

const ignore = (): void => undefined;

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
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
export class Mailer extends IsolatingEmitter<MailerEvents> {
  readonly #policy: HostPolicy;
  readonly #factory: TransportFactory;
  readonly #clock: Clock;
  readonly #isRetryable: (error: unknown) => boolean;
  readonly #onListenerError: ((error: unknown, event: keyof MailerEvents) => void) | undefined;
  readonly #implicitTlsPorts: readonly number[] | undefined;
  readonly #outbox: Outbox;
  readonly #permits: StartPermits;
  readonly #dispatcher: Dispatcher;
  readonly #transports: TransportSlots;
  readonly #waiters = new Waiters();
  /**
   * Messages an outbox stored asynchronously whose `queued` is not emitted yet: emitted at the latest when their
   * first attempt starts, so that `queued` always comes before `sending`.
   */
  readonly #unannounced = new Map<string, () => unknown>();
  /** Messages on their way into the outbox (files measured, records written): `close()` waits for them. */
  readonly #admitting = new Set<Promise<void>>();
  /**
   * Delivered messages whose removal a durable outbox is still recording: each `sent` (and its `send()`) waits for
   * the record, so that a crash meanwhile never re-sends a message the host was told was sent. `idle` and `close()`
   * wait for them; the connection slot does not.
   */
  readonly #recording = new Set<Promise<void>>();
  /** The sender each message was last resolved to, and with which settings. */
  readonly #senders = new WeakMap<OutboxMessage, [EmailSettings, ResolvedSender]>();
  /** Resolves `close()`'s wait once no attempt is in progress. */
  #quiet: (() => void) | undefined;
  #settings: EmailSettings | undefined;
  #secrets: string[] = [];
  #sending = 0;
  #sent = 0;
  #cancelled = 0;
  #busy = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Releases the dispatcher once the first settings are applied. */
  #unconfigured: (() => void) | undefined;

  /**
   * @param options - settings, policy, transport, outbox and tuning; all optional
   * @throws EmailSettingsError when `options.settings` is given and not valid, or `options.policy` is not valid
   * @throws TypeError when `maxConcurrent` is not a whole number of at least 1, or the outbox or permits already
   *   serve another Mailer
   */
  constructor(options: MailerOptions = {}) {
    super();
    const resolved = resolveMailerOptions(options);
    const clock = resolved.clock;
    this.#policy = resolved.policy;
    this.#clock = clock;
    this.#isRetryable = resolved.isRetryable;
    this.#onListenerError = resolved.onListenerError;
    this.#implicitTlsPorts = resolved.implicitTlsPorts;
    this.#factory = resolved.factory;
    this.#outbox = resolved.outbox;
    this.#permits = resolved.permits;
    this.#transports = new TransportSlots(clock, () => (this.#settings?.smtpTimeoutSeconds ?? 30) * 1000);
    const host: OutboxHost = {
      now: () => clock.now(),
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (handle) => clock.clearTimeout(handle),
      wake: () => this.#dispatcher.poke(),
      dropped: (entries, error) => this.#dropped(entries, error),
      recovered: (found) => this.#recovered(found),
      finishedElsewhere: (id, outcome) => this.#finishedElsewhere(id, outcome),
    };
    this.#outbox.bind(host);
    this.#permits.bind(host);
    this.#dispatcher = new Dispatcher(this.#outbox, this.#permits, clock, resolved.maxConcurrent, {
      start: (message, permit) => this.#attempt(message, permit),
      failed: (error) => this.#outboxFailed(error),
    });
    // Nothing is claimed before there are settings to send with: a shared outbox may hold other servers' messages.
    this.#unconfigured = this.#dispatcher.pause();
    if (options.settings !== undefined) this.#apply(parseEmailSettings(options.settings, this.#policy));
  }

  /** Whether the Mailer has valid settings and can send. */
  get configured(): boolean {
    return this.#settings !== undefined;
  }

  /**
   * Validates new settings and applies them at once, to new and pending messages: new attempts use a new transport
   * (the old one closes when its attempts finish), the throttle changes within a second, and waiting retries become
   * due by the new Minutes Between Retries (or are cancelled when they have reached the new Max Errors Before
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
   *   before anything is queued; OutboxUnavailableError when a durable outbox cannot store it
   * @throws DeliveryCancelledError when the message is given up (`reason`, `attempts`, `cause`)
   * @throws AttachmentTooLargeError when a streamed attachment runs over its limit while sending
   * @throws OutboxUnavailableError when a durable outbox lost the message before it was sent (its record was
   *   removed or changed on disk): the `cancelled` event has reason `'outbox'`
   * @throws MailerClosedError when the Mailer closes while a durable outbox keeps the message for the next start
   */
  send(message: MailMessage, options: SendOptions = {}): Promise<DeliveryReport> {
    let waiter: Waiter | undefined;
    const delivered = new Promise<DeliveryReport>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    // an outcome may come before the store is confirmed (an outbox that lost the message): handled here, and
    // passed on to the caller once the store settles
    delivered.catch(ignore);
    const promise = this.#accept(message, options, waiter).then(() => delivered);
    promise.catch(ignore);
    return promise;
  }

  /**
   * Hands a message over and resolves as soon as it is in the outbox (on disk, for a spool), without waiting for
   * delivery: follow it by its id through the events. Checks and refuses exactly as {@link Mailer.send} does.
   *
   * @param message - recipients, subject, body, attachments, headers
   * @param options - kind, Census and custom sender, and the caller's id
   * @returns the message's id
   * @throws as {@link Mailer.send} does before anything is queued
   */
  enqueue(message: MailMessage, options: SendOptions = {}): Promise<EnqueuedMessage> {
    return this.#accept(message, options, undefined);
  }

  /**
   * Loads the messages a durable outbox kept from before this process (after a restart or a crash) and schedules
   * each at its recorded next attempt, its attempt and failure counts kept. A message whose attempt was cut off
   * counts that attempt as failed with an unknown outcome (`failed` with `unknownOutcome: true`) and is retried
   * with the same Message-ID. Each message is announced by `queued` with `resumed: true`. Records that cannot be
   * read are moved aside and listed, never loaded. With the in-memory outbox there is nothing to load.
   *
   * @throws NotConfiguredError before settings are applied; MailerClosedError after close();
   *   OutboxUnavailableError or OutboxLockedError when the outbox cannot be opened
   */
  async resume(): Promise<ResumeReport> {
    if (this.#closed) throw new MailerClosedError();
    const settings = this.#settings;
    if (settings === undefined) throw new NotConfiguredError();
    const release = this.#dispatcher.pause(); // no loaded message starts before its `queued` event
    try {
      const loaded = await this.#outbox.load();
      const counts = announceResumed(loaded.messages, settings, this.#policy, this.#clock.now(), {
        queued: (event) => {
          this.#busy = true;
          this.#emit('queued', event);
        },
        failed: (event) => this.#emit('failed', event),
        cancel: (entry, error) => this.#cancel(entry, 'max-errors', error),
      });
      return { ...counts, quarantined: loaded.quarantined };
    } finally {
      release();
      this.#dispatcher.poke(); // start what was loaded
      this.#checkIdle();
    }
  }

  /**
   * Checks the settings against the server without sending: connect, TLS, login. Resolves with what is wrong, in
   * terms an administrator can act on; never rejects. The whole check is bounded by the SMTP Timeout (stage
   * `'timeout'`). Without settings, or after {@link Mailer.close}, it reports stage `'config'`; a plugged-in
   * transport without a `verify` method is reported as `ok`.
   *
   * With `{ domain: true }` (or the options of {@link checkSenderDomain}) the report also carries the findings of
   * the sender-domain check (MX, SPF, DMARC, DKIM), run beside the connection check with its own time limit.
   *
   * @param options - what else to check
   */
  verify(options?: VerifyOptions): Promise<VerifyReport> {
    return verifyTransport({
      options,
      closed: this.#closed,
      settings: this.#settings,
      transport: this.#settings === undefined ? undefined : this.#transports.current?.transport,
      clock: this.#clock,
      secrets: this.#secrets,
      implicitTlsPorts: this.#implicitTlsPorts,
    });
  }

  /** Counts of messages by state. */
  stats(): MailerStats {
    const counts = this.#outbox.counts(this.#clock.now());
    return {
      queued: counts.queued + this.#dispatcher.claimedAhead, // claimed ahead, waiting for a free connection
      sending: this.#sending + this.#recording.size,
      waitingRetry: counts.waitingRetry,
      sent: this.#sent,
      cancelled: this.#cancelled,
    };
  }

  /**
   * Stops taking messages (`send()` then rejects with `MailerClosedError`, and so does a `send()` still measuring
   * its attachments) and lets attempts in progress finish. With the in-memory outbox every waiting message is
   * cancelled with reason `closed`; a durable outbox keeps them for {@link Mailer.resume} in the next process (their
   * `send()` promises reject with `MailerClosedError`). Closes the transport; resolves when every attempt has
   * settled and its events are out (with a durable outbox, a `sent` that waits for the outbox to record the
   * delivery comes first). A transport that takes longer than the SMTP Timeout to close is left to finish on its
   * own. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
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
  protected override listenerFailed(error: unknown, event: EventEmitter.EventNames<MailerEvents>): void {
    try {
      if (this.#onListenerError !== undefined) this.#onListenerError(error, event);
      else if (event !== 'listenerError') this.emit('listenerError', { event, error });
    } catch {
      // the reporter itself failed: delivery must go on regardless
    }
  }

  #emit<E extends keyof MailerEvents>(event: E, ...args: MailerEvents[E]): void {
    (this.emit as (name: E, ...payload: MailerEvents[E]) => boolean)(event, ...args);
  }

  #apply(settings: EmailSettings): void {
    const secrets = settingsSecretForms(settings);
    this.#settings = settings;
    this.#unconfigured?.();
    this.#unconfigured = undefined;
    this.#secrets = secrets;
    this.#transports.replace(this.#factory(settings), secrets);
    this.#permits.setRate(settings.throttlePerSecond);
    const rule = { delayMs: retryDelayMs(settings), maxFailures: settings.maxErrorsBeforeCancel };
    for (const message of this.#outbox.setRetryRule(rule)) {
      this.#cancel(
        message,
        'max-errors',
        message.lastError ?? new Error('Max Errors Before Cancel was lowered'),
      );
    }
    this.#checkIdle();
    this.#dispatcher.poke();
  }

  /** Checks a message and hands it to the outbox; synchronous unless a file must be measured or stored. */
  #accept(message: MailMessage, options: SendOptions, waiter: Waiter | undefined): Promise<{ id: string }> {
    try {
      if (this.#closed) throw new MailerClosedError();
      const settings = this.#settings;
      if (settings === undefined) throw new NotConfiguredError();
      const checked = checkMessage(message);
      const checkedOptions = checkSendOptions(options);
      const sender = resolveSender(settings, checkedOptions.context, this.#policy);
      const prepared = prepareAttachments(checked, settings, this.#policy);
      const store = (attachments: PreparedAttachments): Promise<{ id: string }> | { id: string } => {
        if (this.#closed) throw new MailerClosedError();
        const stored = outboxMessage(checkedOptions, checked, attachments.held, settings, this.#clock.now());
        const added = this.#outbox.add(stored, {
          awaited: waiter !== undefined,
          generatedId: checkedOptions.generatedId,
        });
        if (!(added instanceof Promise)) return this.#queued(stored, sender, attachments.dropped, waiter);
        let announced: { id: string } | undefined;
        const announce = (): { id: string } => {
          if (announced !== undefined) return announced;
          if (this.#unannounced.get(stored.id) === announce) this.#unannounced.delete(stored.id);
          announced = this.#queued(stored, sender, attachments.dropped, waiter);
          return announced;
        };
        if (!this.#unannounced.has(stored.id)) this.#unannounced.set(stored.id, announce);
        const forget = (error: unknown): never => {
          if (this.#unannounced.get(stored.id) === announce) this.#unannounced.delete(stored.id);
          throw error;
        };
        return this.#admitted(added.then(announce, forget));
      };
      if (prepared instanceof Promise) return this.#admitted(prepared.then(store));
      return Promise.resolve(store(prepared));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Tracks a message on its way into the outbox, so that `close()` waits for it. */
  #admitted<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(ignore, ignore);
    this.#admitting.add(settled);
    void settled.then(() => this.#admitting.delete(settled));
    return work;
  }

  /** A message is in the outbox: announce it and start what can start. */
  #queued(
    message: OutboxMessage,
    sender: ResolvedSender,
    dropped: string[],
    waiter: Waiter | undefined,
  ): { id: string } {
    const { id } = message;
    if (waiter !== undefined) this.#waiters.add(id, waiter);
    this.#busy = true;
    if (this.wants('queued')) {
      this.#emit('queued', { id, kind: message.kind, sender, recipients: [...message.recipients] });
    }
    if (dropped.length > 0) this.#emit('attachmentsDropped', { id, filenames: dropped });
    if (this.#closed && this.#outbox.durable) this.#waiters.kept(id); // closed while the record was written
    this.#dispatcher.poke();
    return { id };
  }

  /** The sender of an attempt: resolved again only when the settings changed since. */
  #senderFor(message: OutboxMessage, settings: EmailSettings): ResolvedSender {
    const known = this.#senders.get(message);
    if (known !== undefined && known[0] === settings) return known[1];
    const sender = resolveSender(settings, message.context, this.#policy);
    this.#senders.set(message, [settings, sender]);
    return sender;
  }

  /** One attempt, started by the dispatcher. Never rejects. */
  async #attempt(message: OutboxMessage, permit: StartPermit): Promise<void> {
    this.#unannounced.get(message.id)?.();
    const settings = this.#settings as EmailSettings;
    let sender: ResolvedSender | undefined;
    let cancelled: [CancelReason, Error] | undefined;
    if (!mayAttemptAgain(message.failures, settings)) {
      cancelled = ['max-errors', message.lastError ?? new Error('Max Errors Before Cancel was lowered')];
    } else {
      try {
        sender = this.#senderFor(message, settings);
      } catch (error) {
        cancelled = ['permanent', toError(error)]; // the settings changed and the custom sender is no longer valid
      }
    }
    if (sender === undefined || cancelled !== undefined) {
      permit.release(); // not attempted
      message.attempts -= 1;
      this.#cancel(message, ...(cancelled as [CancelReason, Error]));
      this.#checkIdle();
      return;
    }
    // counted as sending before any listener runs, so that close() from a listener waits for this attempt
    const slot = this.#transports.begin();
    this.#sending += 1;
    try {
      if (!settings.allowAttachments && message.attachments.length > 0) {
        const filenames = message.attachments.map((held) => held.attachment.filename);
        message.attachments = [];
        this.#emit('attachmentsDropped', { id: message.id, filenames });
      }
      if (this.wants('sending')) this.#emit('sending', { id: message.id, attempt: message.attempts });
      const outcome = await runAttempt({
        message,
        sender,
        settings,
        slot,
        permit,
        clock: this.#clock,
        secrets: this.#secrets,
      });
      if (outcome.ok) this.#delivered(message, outcome.report);
      else {
        const retryable = !outcome.permanent && decideRetryable(outcome.error, this.#isRetryable);
        this.#failed(message, outcome.error, retryable);
      }
    } finally {
      this.#sending -= 1;
      if (this.#sending === 0) this.#quiet?.();
      this.#transports.end(slot);
      this.#checkIdle();
    }
  }

  /**
   * The server accepted the message: `sent` and the `send()` resolve at once when the outbox records it at once,
   * else once its record is done (or failed, reported as `outboxError`: the message was delivered either way).
   */
  #delivered(message: OutboxMessage, report: DeliveryReport): void {
    const deliveredAt = this.#clock.now();
    const announce = (): void => {
      this.#sent += 1;
      if (this.wants('sent')) this.#emit('sent', { ...report, durationMs: deliveredAt - message.queuedAt });
      this.#waiters.resolve(message.id, report);
    };
    const recorded = this.#settle(message, { state: 'sent', report });
    if (recorded === undefined) {
      announce();
      return;
    }
    const announced: Promise<void> = recorded.then(() => {
      this.#recording.delete(announced);
      announce();
      this.#checkIdle();
    });
    this.#recording.add(announced);
  }

  #failed(message: OutboxMessage, error: Error, retryable: boolean): void {
    const settings = this.#settings as EmailSettings; // the settings in force now, not when the attempt began
    message.failures += 1;
    message.lastError = error;
    const closing = this.#closed && !this.#outbox.durable; // a durable outbox keeps it for the next start
    const next = afterFailure(message.failures, retryable, closing, settings);
    const attempt = message.attempts;
    if (!next.retry) {
      this.#emit('failed', { id: message.id, attempt, error, retryable, willRetry: false });
      this.#cancel(message, next.reason, error);
      return;
    }
    const failedAt = this.#clock.now();
    message.failedAt = failedAt;
    // In the outbox before the event, so that a listener that closes finds it; started only after the event, so
    // that its next `sending` never comes before this `failed`.
    this.#dispatcher.hold(() => {
      this.#settle(message, { state: 'waiting' });
      this.#emit('failed', {
        id: message.id,
        attempt,
        error,
        retryable,
        willRetry: true,
        nextAttemptAt: failedAt + next.delayMs,
      });
    });
    if (this.#closed && this.#outbox.durable) this.#waiters.kept(message.id);
  }

  #cancel(message: OutboxEntry, reason: CancelReason, error: Error): void {
    this.#settle(message, { state: 'cancelled', reason });
    this.#givenUp(message, reason, error);
  }

  /** Counts and reports a message given up, and rejects its `send()`. */
  #givenUp(message: OutboxEntry, reason: CancelReason, error: Error): void {
    this.#cancelled += 1;
    this.#emit('cancelled', { id: message.id, attempts: message.attempts, reason, error });
    this.#waiters.reject(message.id, cancellationError(message.id, message.attempts, reason, error));
  }

  /** A shared outbox found attempts cut off by another server: each is reported as failed, or cancelled. */
  #recovered(found: readonly RecoveredMessage[]): void {
    const settings = this.#settings;
    if (settings === undefined) return;
    announceRecovered(found, settings, this.#clock.now(), {
      failed: (event) => this.#emit('failed', event),
      cancel: (entry, error) => this.#cancel(entry, 'max-errors', error),
    });
    this.#checkIdle();
  }

  /** Another server of a shared outbox sent or gave up a message accepted here: its `send()` is told. */
  #finishedElsewhere(id: string, outcome: FinishedElsewhere): void {
    if (outcome.state === 'sent') this.#waiters.resolve(id, outcome.report);
    else this.#waiters.reject(id, cancellationError(id, outcome.attempts, outcome.reason, outcome.error));
  }

  /** The outbox lost messages (removed or changed on disk) and let go of them: each is given up, never settled. */
  #dropped(entries: readonly OutboxEntry[], error: Error): void {
    for (const entry of entries) {
      this.#unannounced.get(entry.id)?.(); // its `queued` comes first, and its `send()` is waiting from then
      this.#givenUp(entry, 'outbox', error);
    }
    this.#checkIdle();
  }

  /**
   * Records an outcome in the outbox; a storage failure is reported, never thrown into delivery.
   *
   * @returns undefined when the outbox recorded it at once; else a promise that resolves (never rejects) once the
   *   outbox is done, a failure reported
   */
  #settle(message: OutboxEntry, outcome: Settlement): Promise<void> | undefined {
    try {
      const settled = this.#outbox.settle(message, outcome);
      if (settled instanceof Promise) {
        return settled.then(ignore, (error: unknown) => this.#outboxFailed(error, message.id));
      }
    } catch (error) {
      this.#outboxFailed(error, message.id);
    }
    return undefined;
  }

  #outboxFailed(error: unknown, id?: string): void {
    this.#emit('outboxError', { error: toError(error), ...(id === undefined ? {} : { id }) });
  }

  #checkIdle(): void {
    if (!this.#busy || this.#sending > 0 || this.#recording.size > 0) return;
    if (this.#dispatcher.claimedAhead > 0) return; // claimed, waiting for a free connection
    const counts = this.#outbox.counts(this.#clock.now());
    if (counts.queued + counts.waitingRetry + counts.sending > 0) return;
    this.#busy = false;
    this.#emit('idle');
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#admitting]); // each is refused, or kept by a durable outbox
    this.#dispatcher.stop();
    if (!this.#outbox.durable) {
      const closedError = new MailerClosedError('The mailer was closed before the message was sent');
      for (const message of this.#outbox.drain())
        this.#cancel(message, 'closed', message.lastError ?? closedError);
    }
    await this.#permits.close();
    if (this.#sending > 0) {
      await new Promise<void>((resolve) => {
        this.#quiet = resolve;
      });
    }
    await Promise.all([...this.#recording]); // their `sent` events, before any `send()` is told it was kept
    this.#waiters.keepAll();
    await this.#outbox.close();
    await this.#transports.closeAll();
    this.#checkIdle();
  }
}
