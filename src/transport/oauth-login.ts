/**
 * The XOAUTH2 login of the SMTP transport: hands nodemailer the tokens of a {@link TokenSource}, and turns what a
 * login can fail with into what the Mailer and `verify()` understand.
 *
 * The token is had before each send or check, so that no connection waits for the token endpoint; nodemailer then
 * takes it at each login (its `provisionCallback`), and renews it once when the server answers
 * the token with a `334` challenge (the XOAUTH2 way of refusing it). A server that refuses with a plain `535`
 * instead gets the same here: the token is discarded and the login tried once more, unless the token refused was
 * new.
 */
import { OAuthTokenError } from '../errors.js';
import type { TokenSource } from '../oauth/token-source.js';
import { scrubForeign, tokenForms } from '../secrets.js';

type ProvisionCallback = (error: Error | null, accessToken?: string, expires?: number) => void;

/** A refusal of an XOAUTH2 login by the SMTP server (not a failure to get a token). */
function isRefusedLogin(error: unknown): boolean {
  const { code, command, responseCode } = (error ?? {}) as {
    code?: unknown;
    command?: unknown;
    responseCode?: unknown;
  };
  return code === 'EAUTH' && command === 'AUTH XOAUTH2' && typeof responseCode === 'number';
}

/** The XOAUTH2 login of one transport (see the module's description). */
export class OAuthLogin {
  readonly #tokens: TokenSource;
  /** The errors handed to nodemailer for token failures, and the typed error each stands for. */
  readonly #failures = new WeakMap<object, OAuthTokenError>();

  /** @param tokens - the transport's tokens */
  constructor(tokens: TokenSource) {
    this.#tokens = tokens;
  }

  /** The `auth` option of nodemailer: XOAUTH2 as the mailbox, with a token from the source at each login. */
  nodemailerAuth(): { type: 'OAuth2'; user: string; provisionCallback: unknown } {
    const tokens = this.#tokens;
    const failures = this.#failures;
    // nodemailer calls it on its own token holder: `this.accessToken` is the token a renewal replaces
    function provisionCallback(
      this: { accessToken?: unknown },
      _user: string,
      renew: boolean,
      callback: ProvisionCallback,
    ): void {
      const rejected = renew && typeof this?.accessToken === 'string' ? this.accessToken : undefined;
      (renew ? tokens.renew(rejected) : tokens.token()).then(
        // expires 1 (long past): nodemailer asks again at the next login, and the source decides what is fresh
        (token) => callback(null, token, 1),
        (error: unknown) => {
          const typed =
            error instanceof OAuthTokenError
              ? error
              : new OAuthTokenError('invalid-response', 'No OAuth 2.0 token could be had', {
                  hint: 'Check the OAuth 2.0 settings (docs/providers.md).',
                });
          const carrier = new Error(typed.message);
          failures.set(carrier, typed);
          callback(carrier);
        },
      );
    }
    return { type: 'OAuth2', user: tokens.user, provisionCallback };
  }

  /**
   * Runs a send or a check that may log in. A token failure rejects with its {@link OAuthTokenError}; a login the
   * server refuses with a token already held is tried once more with a new token; the tokens never show in the
   * error.
   *
   * @param action - the nodemailer call
   * @param signal - the attempt's deadline: an aborted attempt is not tried again
   */
  async run<T>(action: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    // the token first, before a connection waits for it: its request has the whole SMTP Timeout, and a failure is
    // reported as the token's, not as a server that stopped answering
    await this.#tokens.token();
    const generation = this.#tokens.generation;
    try {
      return await action();
    } catch (error) {
      const retry =
        isRefusedLogin(error) && this.#tokens.generation === generation && signal?.aborted !== true;
      if (!retry || generation === 0) throw this.#shown(error);
      this.#tokens.discard(generation);
    }
    try {
      return await action();
    } catch (error) {
      throw this.#shown(error);
    }
  }

  /** The typed error of a token failure, or the error with every token form hidden. */
  #shown(error: unknown): unknown {
    const typed = typeof error === 'object' && error !== null ? this.#failures.get(error) : undefined;
    if (typed !== undefined) return typed;
    const tokens = this.#tokens.tokens;
    return tokens.length === 0 ? error : scrubForeign(error, tokenForms(this.#tokens.user, tokens));
  }
}
