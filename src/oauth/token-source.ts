/**
 * The access tokens of one transport: fetched when first needed, shared by every connection of its pool, kept until
 * shortly before they expire, and fetched again once for the whole pool when they are due or the server refuses
 * one. Concurrent logins wait for the same request rather than each making its own.
 */
import type { EmailSettings } from '../settings/schema.js';
import { type OAuthEndpoints, type ResolvedEndpoints, resolveEndpoints } from './options.js';
import { fetchToken } from './token-fetch.js';
import { tokenRequest } from './token-request.js';

/**
 * A token the SMTP server refused without ever having accepted it is replaced at most this often: the refusal is
 * most likely the settings' (consent, mailbox permission) rather than the token's, and the same request would only
 * buy the same refusal. Once an administrator fixes them, the next token comes within this time.
 */
const RENEW_UNPROVEN_MS = 60_000;
/** Token lifetimes are read as at most a day, so that a token is fetched again at least daily. */
const MAX_LIFETIME_S = 86_400;
/** A token is fetched again this long before it expires (at most half its lifetime before). */
const REFRESH_BEFORE_MS = 5 * 60_000;
/** After a failed request, a token still valid is used this long before the endpoint is asked again. */
const PAUSE_AFTER_FAILURE_MS = 30_000;
/** Tokens whose forms are kept to scrub from errors: the current one and a few before it. */
const REMEMBERED = 4;

/** A token the pool may use. */
interface Held {
  accessToken: string;
  /** When it is fetched again. */
  refreshAt: number;
  /** When it expires: until then it is still used when a new one cannot be had. */
  expiresAt: number;
  /** Which fetch granted it: 1 for the first. */
  generation: number;
  /** Whether a send or check succeeded while it was the token in use: the SMTP server accepts it. */
  accepted: boolean;
}

/** How a {@link TokenSource} works. */
export interface TokenSourceOptions {
  /** Where Microsoft's and Google's endpoints are. */
  endpoints?: OAuthEndpoints | undefined;
  /** The time limit of one token request, in milliseconds (the SMTP Timeout). */
  timeoutMs: number;
  /** The clock. @default Date.now */
  now?: (() => number) | undefined;
}

/** The access tokens of one transport (see the module's description). */
export class TokenSource {
  readonly #settings: EmailSettings;
  readonly #endpoints: ResolvedEndpoints;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #held: Held | undefined;
  #fetching: Promise<Held> | undefined;
  #generation = 0;
  /** Until when a token still valid is used without asking the endpoint, after a failed request. */
  #pausedUntil = 0;
  /** When a token never accepted was last replaced after a refusal. */
  #lastUnprovenRenewal = Number.NEGATIVE_INFINITY;
  /** Renewals asked for after an XOAUTH2 challenge, where nodemailer logs in once more by itself. */
  #challenges = 0;
  readonly #seen: string[] = [];

  /**
   * @param settings - settings whose Authentication Method is OAuth 2.0
   * @param options - the endpoints, the time limit of a request, the clock
   */
  constructor(settings: EmailSettings, options: TokenSourceOptions) {
    this.#settings = settings;
    this.#endpoints = resolveEndpoints(options.endpoints);
    this.#timeoutMs = options.timeoutMs;
    this.#now = options.now ?? Date.now;
  }

  /** The mailbox the tokens act for (the XOAUTH2 `user`). */
  get user(): string {
    return this.#settings.username ?? '';
  }

  /** Which fetch granted the token in use: 0 before the first. */
  get generation(): number {
    return this.#held?.generation ?? this.#generation;
  }

  /**
   * A token to log in with: the one held while it is fresh, otherwise a new one (one request for all who ask
   * meanwhile).
   *
   * @throws OAuthTokenError when no token can be had
   */
  async token(): Promise<string> {
    const held = this.#held;
    const now = this.#now();
    if (held !== undefined && (now < held.refreshAt || (now < this.#pausedUntil && now < held.expiresAt))) {
      return held.accessToken;
    }
    try {
      return (await this.#fetch()).accessToken;
    } catch (error) {
      // due for a new one but still valid: a token endpoint that is down for a while does not stop the mail
      const current = this.#held;
      const later = this.#now();
      if (current !== undefined && later < current.expiresAt) {
        this.#pausedUntil = later + PAUSE_AFTER_FAILURE_MS;
        return current.accessToken;
      }
      throw error;
    }
  }

  /**
   * The token to log in with after the server refused `rejected`: the newer one when another login has already
   * replaced it; a new one when `rejected` had been accepted before (it was revoked or expired early: one request
   * for every login that asks); and, for a token the server never accepted, a new one at most once a minute, else
   * `rejected` itself (the login will be refused again, without a token request for each attempt).
   *
   * @param rejected - the token the server refused
   * @param challenged - asked for after an XOAUTH2 challenge: the login is tried once more with what this returns
   * @throws OAuthTokenError when no token can be had
   */
  async renew(rejected: string | undefined, challenged = false): Promise<string> {
    if (challenged) this.#challenges += 1;
    const held = this.#held;
    if (held === undefined || held.accessToken !== rejected) return this.token();
    if (!held.accepted) {
      const now = this.#now();
      if (now - this.#lastUnprovenRenewal < RENEW_UNPROVEN_MS) return held.accessToken;
      this.#lastUnprovenRenewal = now;
    }
    this.#held = undefined;
    return this.token();
  }

  /** How many renewals were asked for after an XOAUTH2 challenge (each already came with one more login). */
  get challenges(): number {
    return this.#challenges;
  }

  /** A send or check succeeded: the token in use is one the SMTP server accepts. */
  accepted(): void {
    if (this.#held !== undefined) this.#held.accepted = true;
  }

  /** The tokens granted lately, to keep out of errors. */
  get tokens(): readonly string[] {
    return this.#seen;
  }

  #fetch(): Promise<Held> {
    if (this.#fetching !== undefined) return this.#fetching;
    const fetching = this.#request().finally(() => {
      if (this.#fetching === fetching) this.#fetching = undefined;
    });
    this.#fetching = fetching;
    return fetching;
  }

  async #request(): Promise<Held> {
    const startedAt = this.#now();
    const request = tokenRequest(this.#settings, this.#endpoints, startedAt);
    const granted = await fetchToken(request, { timeoutMs: this.#timeoutMs, now: this.#now });
    const lifetimeMs = Math.min(granted.lifetimeS, MAX_LIFETIME_S) * 1000;
    this.#generation += 1;
    const held: Held = {
      accessToken: granted.accessToken,
      // counted from when the request was sent: the token's clock started no earlier
      refreshAt: startedAt + lifetimeMs - Math.min(REFRESH_BEFORE_MS, lifetimeMs / 2),
      expiresAt: startedAt + lifetimeMs,
      generation: this.#generation,
      accepted: false,
    };
    this.#held = held;
    this.#seen.unshift(granted.accessToken);
    this.#seen.length = Math.min(this.#seen.length, REMEMBERED);
    return held;
  }
}
