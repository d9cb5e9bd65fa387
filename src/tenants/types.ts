import type { Clock } from '../mailer/clock.js';
import type { MailerEvents, MailerOptions } from '../mailer/types.js';
import type { Outbox } from '../outbox/types.js';
import type { StartPermits } from '../permits/types.js';
import type { HostPolicy } from '../settings/policy.js';
import type { EmailSettingsInput } from '../settings/schema.js';
import type { TlsOptions } from '../transport/smtp.js';
import type { HostBudgetLimits } from './host-budget.js';

/** The options of one district's Mailer that the host chooses (the group sets settings, policy, permits, clock). */
export type TenantMailerOptions = Omit<MailerOptions, 'settings' | 'policy' | 'permits' | 'clock'>;

/**
 * The shared hosted relay: its budget, and how to reach it. The districts on it that connect the same way (host,
 * port, TLS, timeout, login) share one connection pool of `connections` (5 when not set), unless the host gives
 * them a transport of its own (`mailer`).
 */
export interface HostedRelayOptions extends HostBudgetLimits {
  /** TLS options for the shared pools (a certificate authority to trust, for example). */
  tls?: TlsOptions;
}

/** Options of {@link MailerGroup}. */
export interface MailerGroupOptions {
  /**
   * Loads a district's Email Settings, as saved on its screen: called when the district's Mailer is created and
   * when {@link MailerGroup.settingsSaved} says they changed. `undefined`: the district has not configured email.
   */
  settings: (tenant: string) => EmailSettingsInput | undefined | Promise<EmailSettingsInput | undefined>;
  /** The host's limits, for every district (see `HostPolicy`); `hostedSmtpHosts` names the shared relay. */
  policy?: Partial<HostPolicy>;
  /**
   * The budget of the shared hosted relay (the SMTP Hosts of `policy.hostedSmtpHosts`): starts per sliding second
   * and connections across every district on it, divided fairly among those with messages waiting, emergencies
   * first. None: each district on it keeps only its own throttle, as a lone Mailer does.
   */
  hostedRelay?: HostedRelayOptions;
  /** A district's weight in the hosted relay's budget (a positive number). @default () => 1 */
  share?: (tenant: string) => number;
  /**
   * More options for a district's Mailer: an outbox (a spool folder per district), a transport, TLS, `maxConcurrent`.
   * Called once each time the district's Mailer is created; return a new outbox each time.
   */
  mailer?: (tenant: string) => TenantMailerOptions;
  /**
   * How long a district's Mailer stays open with nothing queued, sending or waiting to retry, in milliseconds.
   * Then it is closed (no timer, socket or pool is left) and created again on next use. @default 60000
   */
  idleMs?: number;
  /** The clock of every district's Mailer and of the shared budget. @default the system clock */
  clock?: Clock;
  /**
   * Several servers, one queue: every district's messages in Redis (`fleetTenants()` of `messenger-email/fleet`),
   * claimed by any server's group in a fair order of districts, with each district's throttle and the hosted
   * relay's `perSecond` held across the servers. Each district's outbox and permits then come from it (an outbox
   * returned by `mailer` is not used).
   */
  fleet?: TenantFleet;
}

/**
 * Start permits that follow a district between its own relay and the shared hosted one (the group switches
 * `hosted` when the district's SMTP Host changes).
 */
export interface TenantStartPermits extends StartPermits {
  /** Whether the district's starts also come from the hosted relay's budget. */
  hosted: boolean;
}

/** What a {@link TenantFleet} needs of the group that uses it. */
export interface TenantFleetHost {
  /**
   * Opens a district's Mailer on this server (a message of it was claimed here); rejects when it cannot (no
   * settings, settings not valid, the group closed).
   */
  open(tenant: string): Promise<void>;
  /** A district's weight in the fair order (the group's `share`). */
  weight(tenant: string): number;
  /** The hosted relay's starts per sliding second across the fleet; undefined: no relay budget. */
  readonly relayPerSecond: number | undefined;
  /** Something went wrong that no district's Mailer reports (`tenant` when it is a district's). */
  error(error: Error, tenant?: string): void;
}

/**
 * Many districts on several servers: one queue that every server's group shares, in a fair order of districts,
 * and throttles that hold across the servers. Made by `fleetTenants()` of `messenger-email/fleet` and given to one
 * {@link MailerGroup} on each server.
 */
export interface TenantFleet {
  /** Starts claiming the fleet's messages for this server's group (once). */
  start(host: TenantFleetHost): void;
  /** A new outbox for a district's Mailer (one per Mailer). */
  outbox(tenant: string): Outbox;
  /**
   * New start permits for a district's Mailer: its throttle across the fleet, and the hosted relay's budget
   * while `hosted`.
   */
  permits(tenant: string, hosted: boolean): TenantStartPermits;
  /**
   * Stops claiming (the group is closing): claims not yet handed to a district's Mailer go back to the queue.
   * Attempts under way are still recorded until {@link TenantFleet.close}.
   */
  stop(): void;
  /** Stops claiming and closes its connections (the messages stay in Redis). */
  close(): Promise<void>;
}

/** The district an event of a {@link MailerGroup} is about. */
export interface TenantTag {
  /** The district's id, as given to {@link MailerGroup.tenant}. */
  tenant: string;
}

/** A Mailer event's arguments with the district added to its payload (`idle`, which has none, gets the district). */
export type WithTenant<A extends unknown[]> = A extends [infer E] ? [e: E & TenantTag] : [e: TenantTag];

/**
 * The events of a {@link MailerGroup}: every event of every district's Mailer, its payload extended with the
 * district's id (`tenant`; `idle` carries only that), and the group's own `tenantOpened` and `tenantClosed`.
 */
export type MailerGroupEvents = { [K in keyof MailerEvents]: WithTenant<MailerEvents[K]> } & {
  /** A district's Mailer was created (first use, or use after it was closed when idle). */
  tenantOpened: [e: TenantOpenedEvent];
  /** A district's Mailer was closed: idle for `idleMs`, or the group closed. */
  tenantClosed: [e: TenantClosedEvent];
};

/** Payload of the `tenantOpened` event of a {@link MailerGroup}. */
export interface TenantOpenedEvent extends TenantTag {
  /** Whether the district sends through the shared hosted relay (and takes its starts from its budget). */
  hosted: boolean;
}

/** Payload of the `tenantClosed` event of a {@link MailerGroup}. */
export interface TenantClosedEvent extends TenantTag {
  /** `idle`: nothing to send for `idleMs`; `closed`: the group closed, or the district has no settings any more. */
  reason: 'idle' | 'closed';
}

/** Counts of a {@link MailerGroup}. */
export interface MailerGroupStats {
  /** Districts whose Mailer is open. */
  open: number;
  /** Of those, the ones sending through the shared hosted relay. */
  hosted: number;
  /** Messages waiting for the throttle or a connection, summed over the open districts. */
  queued: number;
  /** Attempts in progress, summed over the open districts. */
  sending: number;
  /** Messages waiting Minutes Between Retries, summed over the open districts. */
  waitingRetry: number;
  /** Attempts holding a connection to the hosted relay now. */
  hostedInUse: number;
}
