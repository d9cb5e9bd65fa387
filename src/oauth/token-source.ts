/**
 * The access tokens of one transport: fetched when first needed, shared by every connection of its pool, kept until
 * shortly before they expire, and fetched again once for the whole pool when they are due or the server refuses
 * one. Concurrent logins wait for the same request rather than each making its own.
 */
import type { EmailSettings } from '../settings/schema.js';
import { type OAuthEndpoints, type ResolvedEndpoints, resolveEndpoints } from './options.js';
import { fetchToken } from './token-fetch.js';
import { tokenRequest } from './token-request.js';

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
   * A new token after the server refused `rejected`; when another login has already replaced it, the newer one.
   *
   * @param rejected - the token the server refused
   * @throws OAuthTokenError when no token can be had
   */
  async renew(rejected: string | undefined): Promise<string> {
    if (this.#held !== undefined && this.#held.accessToken === rejected) this.#held = undefined;
    return this.token();
  }

  /**
   * Forgets the token granted by fetch `generation`, so that the next login fetches a new one; a newer token is
   * kept.
   */
  discard(generation: number): void {
    if (this.#held?.generation === generation) this.#held = undefined;
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
    const lifetimeMs = granted.lifetimeS * 1000;
    this.#generation += 1;
    const held: Held = {
      accessToken: granted.accessToken,
      // counted from when the request was sent: the token's clock started no earlier
      refreshAt: startedAt + lifetimeMs - Math.min(REFRESH_BEFORE_MS, lifetimeMs / 2),
      expiresAt: startedAt + lifetimeMs,
      generation: this.#generation,
    };
    this.#held = held;
    this.#seen.unshift(granted.accessToken);
    this.#seen.length = Math.min(this.#seen.length, REMEMBERED);
    return held;
  }
}
