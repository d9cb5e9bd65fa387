/**
 * One set of Email Settings for every server of a fleet. The settings a server saves go to Redis without the
 * password (one hash: the settings as JSON, a version, and a check of the password), and a change notice goes out
 * on a Pub/Sub channel; every attached server reads them and applies them to its Mailer with its own password.
 * A notice lost while a server was cut off is made up for by a check of the version twice a second and at every
 * reconnect, so that a change reaches every server within a second.
 *
 * The password check is an scrypt hash of the password with a random salt (as a password database keeps one): a
 * server compares its own password with it and reports a mismatch, and the password itself is never written.
 * Plain ioredis (a hash, MULTI, Pub/Sub) is enough here: this is a small record, not a queue.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { Redis, type RedisOptions } from 'ioredis';
import { FleetUnavailableError, isMailerError } from '../errors.js';
import type { Mailer } from '../mailer/mailer.js';
import { scrubForeign, secretForms, settingsSecretForms } from '../secrets.js';
import { SECRET_SETTINGS_FIELDS, type SecretSettingsField } from '../settings/defaults.js';
import { normalizePrivateKey } from '../settings/oauth-fields.js';
import { redactSettings } from '../settings/redact.js';
import type { EmailSettings, EmailSettingsInput } from '../settings/schema.js';
import { showValue } from '../truncate.js';

/** Options of {@link "messenger-email/fleet".fleetSettings}. */
export interface FleetSettingsOptions {
  /** The Redis server the fleet shares: ioredis options, or a client whose options are copied. */
  readonly connection: Redis | RedisOptions;
  /** The key of the settings (a hash; its change notices go on the channel `<key>:changed`): one per fleet. */
  readonly key: string;
  /**
   * This server's SMTP password, from its own configuration (an environment variable, a secret store). It is
   * never written to Redis: it joins the fleet's settings when they are applied here.
   */
  readonly password?: string | undefined;
  /** This server's OAuth 2.0 client secret (Microsoft 365, custom provider), kept like the password. */
  readonly oauthClientSecret?: string | undefined;
  /** This server's Google service account private key (PEM), kept like the password. */
  readonly oauthPrivateKey?: string | undefined;
  /**
   * How often, in milliseconds, the version in Redis is checked in case a change notice was missed. At least 100.
   * @default 500
   */
  readonly checkMs?: number;
}

/** The fleet's settings were applied to this server's Mailer. */
export interface FleetSettingsAppliedEvent {
  /** The version applied (it goes up by one at each save in the fleet). */
  version: number;
  /** The settings applied, the password redacted. */
  settings: EmailSettings;
}

/** This server's password is not the one the fleet's settings were saved with. */
export interface FleetPasswordMismatchEvent {
  /** The version of the settings. */
  version: number;
  /** What is wrong and what to do, for the server's log. */
  message: string;
}

/** The events of {@link FleetSettings}. */
export interface FleetSettingsEventMap {
  /** The fleet's settings were applied to this server's Mailer. */
  applied: [event: FleetSettingsAppliedEvent];
  /**
   * This server's password is not the one the fleet's settings were saved with: it will most likely fail to log
   * in to the relay. Update this server's configuration.
   */
  passwordMismatch: [event: FleetPasswordMismatchEvent];
  /** Redis could not be read, or the fleet's settings could not be applied here (the old ones stay in force). */
  error: [error: Error];
}

interface Stored {
  version: number;
  settings: Record<string, unknown>;
  passwordCheck: string;
}

const SCRYPT_COST = 16_384;
const CHECK_BYTES = 32;

function hashPassword(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, CHECK_BYTES, { N: SCRYPT_COST }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** This server's own secrets, by settings field. */
type OwnSecrets = Partial<Record<SecretSettingsField, string>>;

/**
 * The text the check is made of: the secrets the settings use. A password alone is itself, so that checks saved
 * before OAuth 2.0 existed still match.
 */
function secretText(settings: Partial<Record<SecretSettingsField, unknown>>): string | undefined {
  const used = SECRET_SETTINGS_FIELDS.filter(
    (field) => typeof settings[field] === 'string' && settings[field] !== '',
  );
  if (used.length === 0) return undefined;
  if (used.length === 1 && used[0] === 'password') return settings.password as string;
  // the same key pasted another way (line ends, escapes) is the same key
  const value = (field: SecretSettingsField) =>
    field === 'oauthPrivateKey' ? normalizePrivateKey(settings[field] as string) : settings[field];
  return JSON.stringify(Object.fromEntries(used.map((field) => [field, value(field)])));
}

/** `scrypt$<salt>$<hash>` of a password, or `none` without one. */
async function passwordCheck(password: string | undefined): Promise<string> {
  if (password === undefined || password === '') return 'none';
  const salt = randomBytes(16);
  const hash = await hashPassword(password, salt);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

async function passwordMatches(check: string, password: string | undefined): Promise<boolean> {
  if (check === 'none') return password === undefined || password === '';
  const [, salt, hash] = check.split('$');
  if (salt === undefined || hash === undefined || password === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await hashPassword(password, Buffer.from(salt, 'base64'));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Shares a fleet's Email Settings through Redis; see {@link "messenger-email/fleet".fleetSettings}. */
export class FleetSettings extends EventEmitter<FleetSettingsEventMap> {
  readonly #redis: Redis;
  readonly #notices: Redis;
  readonly #key: string;
  readonly #channel: string;
  readonly #own: OwnSecrets;
  readonly #secrets: string[];
  readonly #server: string;
  readonly #checkMs: number;
  #mailer: Mailer | undefined;
  #version = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Loads and saves, one at a time, in the order they were asked for. */
  #serial: Promise<unknown> = Promise.resolve();
  #refreshing = false;
  #closed = false;

  /** @param options - checked by {@link "messenger-email/fleet".fleetSettings} */
  constructor(options: FleetSettingsOptions & { checkMs: number }) {
    super();
    const redis: RedisOptions =
      options.connection instanceof Redis ? { ...options.connection.options } : { ...options.connection };
    this.#key = options.key;
    this.#channel = `${options.key}:changed`;
    this.#own = {};
    for (const field of SECRET_SETTINGS_FIELDS) {
      const value = options[field];
      if (value !== undefined) this.#own[field] = value;
    }
    this.#checkMs = options.checkMs;
    const { username, password, host, port, path } = redis;
    this.#secrets = [
      ...secretForms(username ?? undefined, password ?? undefined),
      ...settingsSecretForms(this.#own),
    ];
    this.#server = path ?? `${host ?? 'localhost'}:${port ?? 6379}`;
    this.#redis = new Redis({
      ...redis,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    this.#notices = new Redis({ ...redis, lazyConnect: true });
    this.#redis.on('error', ignoreConnectionError);
    this.#notices.on('error', ignoreConnectionError);
    this.#notices.on('message', (channel: string) => {
      if (channel === this.#channel) this.#refresh();
    });
    this.#redis.on('ready', () => this.#refresh()); // a notice may have been missed while it was away
  }

  /** The version of the fleet's settings applied here (0 before any). */
  get version(): number {
    return this.#version;
  }

  /**
   * Applies the fleet's settings to this server's Mailer (when Redis has some), then follows every change.
   *
   * @returns whether settings were found and applied
   * @throws FleetUnavailableError when Redis cannot be reached; EmailSettingsError when the fleet's settings
   *   cannot be applied here (for example, they need a password and this server has none)
   */
  async attach(mailer: Mailer): Promise<boolean> {
    if (this.#mailer !== undefined)
      throw new TypeError('These fleet settings are already attached to a Mailer');
    try {
      await Promise.all([this.#redis.connect(), this.#notices.connect()]);
      await this.#notices.subscribe(this.#channel);
    } catch (error) {
      this.#redis.disconnect();
      this.#notices.disconnect();
      throw this.#unavailable(error, 'reach'); // nothing attached: attach() may be called again
    }
    this.#mailer = mailer;
    try {
      return await this.#exclusive(() => this.#load(true));
    } finally {
      // later versions are followed even when this one could not be applied here
      this.#timer = setInterval(() => this.#refresh(), this.#checkMs);
      this.#timer.unref();
    }
  }

  /**
   * Validates and applies new settings on this server, then saves them for the fleet (without the password, the
   * client secret or the private key) and tells every server. Each secret in `settings`, when given, is the one the
   * check is made of; otherwise this server's own.
   *
   * @returns the parsed settings
   * @throws EmailSettingsError when they are not valid (nothing changes); FleetUnavailableError when Redis could
   *   not store them (they are applied here, not on the other servers)
   */
  save(settings: EmailSettingsInput): Promise<EmailSettings> {
    const mailer = this.#attached();
    // one at a time with the loads: a load between this configure() and this write would be overwritten here
    // while its version was counted as applied
    return this.#exclusive(() => this.#save(mailer, settings));
  }

  async #save(mailer: Mailer, settings: EmailSettingsInput): Promise<EmailSettings> {
    const parsed = mailer.configure({ ...this.#own, ...settings } as EmailSettingsInput);
    const shared: Record<string, unknown> = { ...parsed };
    for (const field of SECRET_SETTINGS_FIELDS) delete shared[field];
    const check = await passwordCheck(secretText(parsed));
    try {
      const replies = await this.#redis
        .multi()
        .hincrby(this.#key, 'version', 1)
        .hset(this.#key, 'settings', JSON.stringify(shared), 'passwordCheck', check)
        .exec();
      const version = Number(replies?.[0]?.[1]);
      this.#version = version; // what this server now runs; a later save elsewhere is loaded after
      await this.#redis.publish(this.#channel, String(version));
    } catch (error) {
      throw this.#unavailable(error, 'store the settings in');
    }
    return parsed;
  }

  /** Stops following changes and closes the connections. The Mailer keeps its settings. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#redis.disconnect();
    this.#notices.disconnect();
  }

  #attached(): Mailer {
    if (this.#mailer === undefined)
      throw new TypeError('Attach the fleet settings to a Mailer first: attach(mailer)');
    return this.#mailer;
  }

  /** Loads and applies a newer version, one load at a time; failures are reported as `error`. */
  #refresh(): void {
    if (this.#closed || this.#mailer === undefined || this.#refreshing) return;
    this.#refreshing = true;
    this.#exclusive(() => this.#load(false))
      .catch((error: unknown) => {
        if (!this.#closed) this.emit('error', error as Error);
      })
      .finally(() => {
        this.#refreshing = false;
      });
  }

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(work, work);
    this.#serial = run.then(ignore, ignore);
    return run;
  }

  async #read(): Promise<Stored | undefined> {
    let fields: Record<string, string>;
    try {
      fields = await this.#redis.hgetall(this.#key);
    } catch (error) {
      throw this.#unavailable(error, 'read the settings from');
    }
    if (fields.version === undefined || fields.settings === undefined) return undefined;
    return {
      version: Number(fields.version),
      settings: JSON.parse(fields.settings) as Record<string, unknown>,
      passwordCheck: fields.passwordCheck ?? 'none',
    };
  }

  async #load(first: boolean): Promise<boolean> {
    const stored = await this.#read();
    if (stored === undefined || (!first && stored.version <= this.#version)) return false;
    const mailer = this.#attached();
    const input = { ...stored.settings, ...this.#own } as EmailSettingsInput;
    let parsed: EmailSettings;
    try {
      parsed = mailer.configure(input);
    } catch (error) {
      this.#version = stored.version; // reported once, not every second
      if (isMailerError(error)) {
        error.message = `The fleet's Email Settings (version ${stored.version}) cannot be applied on this server: ${error.message}`;
      }
      throw error;
    }
    this.#version = stored.version;
    if (parsed.useAuthentication && !(await passwordMatches(stored.passwordCheck, secretText(parsed)))) {
      const what =
        parsed.authMethod === 'oauth2'
          ? `OAuth 2.0 ${parsed.oauthProvider === 'google' ? 'private key' : 'client secret'}`
          : 'SMTP password';
      this.emit('passwordMismatch', {
        version: stored.version,
        message: `This server's ${what} is not the one the fleet's Email Settings (version ${stored.version}) were saved with: it will most likely fail to log in to ${showValue(parsed.smtpHost)}. Set the same ${what} in this server's configuration.`,
      });
    }
    this.emit('applied', { version: stored.version, settings: redactSettings(parsed) });
    return true;
  }

  #unavailable(error: unknown, what: string): FleetUnavailableError {
    const cause = scrubForeign(error, this.#secrets);
    return new FleetUnavailableError(
      `Redis at ${this.#server} could not ${what} the fleet's Email Settings (${showValue(this.#key)}): ${showValue(cause.message, { quote: false })}. Check that Redis is running and that this server can reach it.`,
      { cause },
    );
  }
}

function ignore(): void {
  // settled elsewhere
}

function ignoreConnectionError(): void {
  // reported by the commands that fail; a client without a listener would print each one
}
