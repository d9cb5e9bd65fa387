import type { EventEmitter } from 'eventemitter3';
import { sameHost } from '../address.js';
import { MailerClosedError, NotConfiguredError } from '../errors.js';
import { type Clock, systemClock } from '../mailer/clock.js';
import type { DeliveryReport } from '../mailer/delivery-report.js';
import { IsolatingEmitter } from '../mailer/isolating-emitter.js';
import { Mailer } from '../mailer/mailer.js';
import type { EnqueuedMessage, MailerEvents } from '../mailer/types.js';
import type { MailMessage, SendOptions } from '../message.js';
import { type HostPolicy, resolvePolicy } from '../settings/policy.js';
import { smtpTransport } from '../transport/smtp.js';
import type { TransportFactory } from '../transport/types.js';
import { showValue } from '../truncate.js';
import { HostBudget } from './host-budget.js';
import { checkGroupOptions, shareOf } from './options.js';
import { SharedTransports } from './shared-transports.js';
import { TenantPermits } from './tenant-permits.js';
import type {
  MailerGroupEvents,
  MailerGroupOptions,
  MailerGroupStats,
  TenantMailerOptions,
  TenantStartPermits,
} from './types.js';

/**
 * Every event of a district's Mailer, passed on by the group with the district's id. A record rather than a list,
 * so that an event added to `MailerEvents` and not here fails to compile instead of going silently unforwarded.
 */
const FORWARDED = Object.keys({
  queued: true,
  sending: true,
  sent: true,
  failed: true,
  cancelled: true,
  attachmentsDropped: true,
  settingsChanged: true,
  idle: true,
  listenerError: true,
  outboxError: true,
} satisfies Record<keyof MailerEvents, true>) as (keyof MailerEvents)[];

const GROUP_CLOSED =
  'The mailer group is closed and takes no new messages: create a new MailerGroup to send again';

/** One open district. */
interface Tenant {
  readonly id: string;
  readonly mailer: Mailer;
  readonly permits: TenantStartPermits;
  idleTimer: unknown;
  /** Messages being handed over through the group (an attachment may still be measured): not idle meanwhile. */
  handing: number;
  /** Set once the district is being closed: a new use waits for it, then opens the district again. */
  closing?: Promise<void>;
}

/**
 * Many districts in one host: each district's own Mailer, with its own Email Settings, created on first use from
 * the settings the host loads, closed when idle, reconfigured when the host says the district saved its settings.
 *
 * - **Events:** the group emits every event of every district's Mailer with the district's id (`tenant`), so the
 *   host subscribes once for all.
 * - **Idle districts** cost nothing: after `idleMs` with nothing queued, sending or waiting to retry, a district's
 *   Mailer is closed (no timer, socket, pool or heap is kept for it) and created again on next use.
 * - **Own relays:** a district sending through its own SMTP Host keeps its own throttle, exactly as a lone Mailer.
 * - **The shared hosted relay** (`policy.hostedSmtpHosts`): with `hostedRelay` set, the districts on it also share
 *   its budget ({@link HostBudget}): starts per sliding second and connections, divided fairly among the districts
 *   with messages waiting (weighted by `share`), every waiting emergency of any district before any standard
 *   message; each district's own throttle still applies inside its share.
 *
 * ```ts
 * const group = new MailerGroup({
 *   settings: (district) => db.emailSettings(district),
 *   policy: { hostedSmtpHosts: ['smtp.vendor.example'] },
 *   hostedRelay: { perSecond: 200, connections: 20 },
 * });
 * group.on('sent', (e) => db.markSent(e.tenant, e.id));
 * await group.send('district-42', { to: 'parent@example.org', subject: 'Snow day', text: '...' });
 * ```
 */
export class MailerGroup extends IsolatingEmitter<MailerGroupEvents> {
  readonly #options: MailerGroupOptions;
  readonly #policy: HostPolicy;
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #budget: HostBudget | undefined;
  /** The hosted relay's pools, one per way of connecting (with `hostedRelay`). */
  readonly #shared: SharedTransports | undefined;
  readonly #tenants = new Map<string, Tenant>();
  /** Districts being opened: concurrent uses share one opening. */
  readonly #opening = new Map<string, Promise<Tenant>>();
  #closed = false;
  /** The district whose event is being passed on: a listener that fails is reported with it. */
  #emittingFor: string | undefined;

  /**
   * @param options - the settings loader, the host policy, the hosted relay's budget and the districts' options
   * @throws EmailSettingsError when `policy` is not valid; TypeError when `hostedRelay` or `idleMs` is not valid
   */
  constructor(options: MailerGroupOptions) {
    super();
    const { idleMs } = checkGroupOptions(options);
    this.#options = options;
    this.#policy = resolvePolicy(options.policy);
    this.#clock = options.clock ?? systemClock;
    this.#idleMs = idleMs;
    const relay = options.hostedRelay;
    if (relay !== undefined) {
      const { connections } = relay;
      if (options.fleet === undefined) this.#budget = new HostBudget(relay, this.#clock);
      const pool = { maxConnections: connections ?? 5, now: () => this.#clock.now() };
      const tls = relay.tls;
      this.#shared = new SharedTransports((s) =>
        smtpTransport(s, tls === undefined ? pool : { ...pool, tls }),
      );
    }
    options.fleet?.start({
      open: async (tenant) => {
        await this.#open(tenant);
      },
      weight: (tenant) => shareOf(this.#options, tenant),
      relayPerSecond: relay?.perSecond,
      error: (error, tenant) => this.emit('outboxError', { error, tenant: tenant ?? '' }),
    });
  }

  /**
   * The district's Mailer: the open one, or a new one created from the settings the loader gives (a durable outbox
   * is resumed first, so what it kept is sent).
   *
   * @param id - the district's id
   * @throws NotConfiguredError when the loader has no settings for the district; EmailSettingsError when they are
   *   not valid; MailerClosedError once the group is closed
   */
  async tenant(id: string): Promise<Mailer> {
    return (await this.#open(id)).mailer;
  }

  /** The district's Mailer when it is open, without opening it. */
  get(id: string): Mailer | undefined {
    const tenant = this.#tenants.get(id);
    return tenant === undefined || tenant.closing !== undefined ? undefined : tenant.mailer;
  }

  /**
   * Sends a message for a district (see `Mailer.send`). The district is not closed as idle while the message is
   * handed over (an attachment read or measured), which a Mailer taken from {@link MailerGroup.tenant} and kept
   * cannot promise.
   */
  async send(id: string, message: MailMessage, options?: SendOptions): Promise<DeliveryReport> {
    const tenant = await this.#open(id);
    return this.#handing(tenant, tenant.mailer.send(message, options));
  }

  /** Hands a message over for a district without waiting for delivery (see `Mailer.enqueue`). */
  async enqueue(id: string, message: MailMessage, options?: SendOptions): Promise<EnqueuedMessage> {
    const tenant = await this.#open(id);
    return this.#handing(tenant, tenant.mailer.enqueue(message, options));
  }

  /** Keeps the district open while `handing` settles. */
  async #handing<T>(tenant: Tenant, handing: Promise<T>): Promise<T> {
    tenant.handing += 1;
    this.#disarmIdle(tenant);
    try {
      return await handing;
    } finally {
      tenant.handing -= 1;
      this.#armIdle(tenant);
    }
  }

  /**
   * The district saved its Email Settings: when its Mailer is open, the settings are loaded again and applied
   * (`configure`), and the district moves to or from the hosted relay's budget; otherwise the next use loads them.
   *
   * @throws EmailSettingsError when the new settings are not valid (the old ones stay in force)
   */
  async settingsSaved(id: string): Promise<void> {
    // being opened: it may have loaded the settings before they were saved, so they are applied once it is open
    await this.#opening.get(id)?.catch(() => undefined);
    const tenant = this.#tenants.get(id);
    if (tenant === undefined || tenant.closing !== undefined) return;
    const settings = await this.#options.settings(id);
    // closed (idle, or the group) while the settings loaded: the next use loads them
    if (tenant.closing !== undefined || this.#tenants.get(id) !== tenant) return;
    if (settings === undefined) {
      await this.#close(tenant, 'closed'); // email turned off for the district: its queue is cancelled
      return;
    }
    tenant.mailer.configure(settings);
  }

  /** Counts over the open districts. */
  stats(): MailerGroupStats {
    const stats = { open: 0, hosted: 0, queued: 0, sending: 0, waitingRetry: 0 };
    for (const tenant of this.#tenants.values()) {
      if (tenant.closing !== undefined) continue;
      stats.open += 1;
      if (tenant.permits.hosted) stats.hosted += 1;
      const counts = tenant.mailer.stats();
      stats.queued += counts.queued;
      stats.sending += counts.sending;
      stats.waitingRetry += counts.waitingRetry;
    }
    return { ...stats, hostedInUse: this.#budget?.inUse ?? 0 };
  }

  /** Closes every district's Mailer (see `Mailer.close`); the group takes no more messages. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#options.fleet?.stop(); // no more claims: each district's Mailer then closes with what it holds
    await Promise.allSettled([...this.#opening.values()]);
    await Promise.all([...this.#tenants.values()].map((tenant) => this.#close(tenant, 'closed')));
    this.#budget?.close();
    await this.#options.fleet?.close();
  }

  protected override listenerFailed(error: unknown, event: EventEmitter.EventNames<MailerGroupEvents>): void {
    try {
      const tenant = this.#emittingFor ?? '';
      if (event !== 'listenerError') this.emit('listenerError', { tenant, event: event as never, error });
    } catch {
      // the reporter itself failed: delivery must go on regardless
    }
  }

  async #open(id: string): Promise<Tenant> {
    if (typeof id !== 'string' || id === '') throw new TypeError('A district id must be a non-empty string');
    for (;;) {
      if (this.#closed) throw new MailerClosedError(GROUP_CLOSED);
      const open = this.#tenants.get(id);
      if (open !== undefined && open.closing === undefined) return open;
      if (open?.closing !== undefined) {
        await open.closing; // closed when idle a moment ago: open it again once that is done
        continue;
      }
      const opening = this.#opening.get(id);
      if (opening !== undefined) return opening;
      const created = this.#create(id).finally(() => this.#opening.delete(id));
      this.#opening.set(id, created);
      return created;
    }
  }

  async #create(id: string): Promise<Tenant> {
    const settings = await this.#options.settings(id);
    if (settings === undefined) {
      throw new NotConfiguredError(
        `District ${showValue(id)} has no Email Settings: save them on its Email Settings screen first`,
      );
    }
    const fleet = this.#options.fleet;
    const extra = {
      ...this.#options.mailer?.(id),
      ...(fleet === undefined ? {} : { outbox: fleet.outbox(id) }),
    };
    const weight = shareOf(this.#options, id);
    const permits = fleet?.permits(id, false) ?? new TenantPermits(this.#budget?.share(id, weight), false);
    const transport = extra.transport ?? this.#transportFor(extra);
    let mailer: Mailer;
    try {
      mailer = new Mailer({
        ...extra,
        ...(transport === undefined ? {} : { transport }),
        settings,
        policy: this.#policy,
        permits,
        clock: this.#clock,
      });
    } catch (error) {
      await permits.close();
      throw error;
    }
    const tenant: Tenant = { id, mailer, permits, idleTimer: undefined, handing: 0 };
    permits.hosted = this.#hosted(settings.smtpHost);
    this.#forward(tenant);
    this.emit('tenantOpened', { tenant: id, hosted: permits.hosted });
    try {
      // what a durable outbox kept is loaded before the district is used (and before it can count as idle)
      if (!this.#closed && extra.outbox?.durable === true) await mailer.resume();
    } catch (error) {
      await this.#close(tenant, 'closed'); // nothing half open: the next use tries again
      throw error;
    }
    if (this.#closed) {
      await this.#close(tenant, 'closed');
      throw new MailerClosedError(GROUP_CLOSED);
    }
    this.#tenants.set(id, tenant);
    this.#armIdle(tenant);
    return tenant;
  }

  /**
   * With a hosted relay budget: the district's transport, the shared pool while its SMTP Host is the hosted relay,
   * its own SMTP pool otherwise (as a lone Mailer's).
   */
  #transportFor(extra: TenantMailerOptions): TransportFactory | undefined {
    const shared = this.#shared;
    if (shared === undefined) return undefined;
    const own = {
      maxConnections: extra.maxConcurrent ?? 5,
      now: () => this.#clock.now(),
      ...(extra.tls === undefined ? {} : { tls: extra.tls }),
      ...(extra.oauthEndpoints === undefined ? {} : { oauthEndpoints: extra.oauthEndpoints }),
    };
    return (settings) =>
      this.#hosted(settings.smtpHost) ? shared.acquire(settings) : smtpTransport(settings, own);
  }

  /** Whether an SMTP Host is the shared hosted relay. */
  #hosted(smtpHost: unknown): boolean {
    return (
      typeof smtpHost === 'string' && this.#policy.hostedSmtpHosts.some((host) => sameHost(host, smtpHost))
    );
  }

  /** Passes the district's events on with its id, and follows its settings and its idleness. */
  #forward(tenant: Tenant): void {
    const { id, mailer } = tenant;
    for (const event of FORWARDED) {
      mailer.on(event, ((payload?: object) => {
        const outer = this.#emittingFor;
        this.#emittingFor = id;
        try {
          (this.emit as (name: string, arg: unknown) => boolean)(event, { ...payload, tenant: id });
        } finally {
          this.#emittingFor = outer;
        }
      }) as never);
    }
    mailer.on('queued', () => this.#disarmIdle(tenant));
    mailer.on('idle', () => this.#armIdle(tenant));
    mailer.on('settingsChanged', (event) => {
      tenant.permits.hosted = this.#hosted(event.settings.smtpHost);
    });
  }

  #disarmIdle(tenant: Tenant): void {
    if (tenant.idleTimer === undefined) return;
    this.#clock.clearTimeout(tenant.idleTimer);
    tenant.idleTimer = undefined;
  }

  #armIdle(tenant: Tenant): void {
    this.#disarmIdle(tenant);
    if (tenant.closing !== undefined) return;
    if (!this.#isIdle(tenant)) {
      // a district fed by the fleet's claims has no hand-over here to say when it is idle: looked at again later
      if (this.#options.fleet !== undefined) this.#recheckIdle(tenant);
      return;
    }
    tenant.idleTimer = this.#clock.setTimeout(() => {
      tenant.idleTimer = undefined;
      if (this.#isIdle(tenant)) void this.#close(tenant, 'idle');
      else if (this.#options.fleet !== undefined) this.#recheckIdle(tenant);
    }, this.#idleMs);
  }

  /** Looks at a busy district again after `idleMs`, and closes it then if it is idle. */
  #recheckIdle(tenant: Tenant): void {
    if (tenant.closing !== undefined || tenant.idleTimer !== undefined) return;
    tenant.idleTimer = this.#clock.setTimeout(() => {
      tenant.idleTimer = undefined;
      if (tenant.closing !== undefined) return;
      if (this.#isIdle(tenant)) void this.#close(tenant, 'idle');
      else this.#recheckIdle(tenant);
    }, this.#idleMs);
  }

  #isIdle(tenant: Tenant): boolean {
    if (tenant.handing > 0) return false;
    const { queued, sending, waitingRetry } = tenant.mailer.stats();
    return queued + sending + waitingRetry === 0;
  }

  #close(tenant: Tenant, reason: 'idle' | 'closed'): Promise<void> {
    if (tenant.closing !== undefined) return tenant.closing;
    this.#disarmIdle(tenant);
    tenant.closing = (async () => {
      try {
        await tenant.mailer.close();
        await tenant.permits.close();
      } finally {
        if (this.#tenants.get(tenant.id) === tenant) this.#tenants.delete(tenant.id);
        tenant.mailer.removeAllListeners();
        this.emit('tenantClosed', { tenant: tenant.id, reason });
      }
    })();
    return tenant.closing;
  }
}
