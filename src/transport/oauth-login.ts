/**
 * The XOAUTH2 login of the SMTP transport: hands nodemailer the tokens of a {@link TokenSource}, and turns what a
 * login can fail with into what the Mailer and `verify()` understand.
 *
 * The token is had before each send or check, so that no connection waits for the token endpoint; nodemailer then
 * takes it at each login (its `provisionCallback`). When the server refuses a token, with a `334` challenge (the
 * XOAUTH2 way: nodemailer asks for a renewed token and logs in once more) or a plain `535` (the same is done here),
 * the token source decides whether another token is worth a request (see {@link TokenSource.renew}).
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
      (renew ? tokens.renew(rejected, true) : tokens.token()).then(
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
   * server refuses is tried once more when {@link TokenSource.renew} gives another token (one another connection
   * got meanwhile, or a new one); the tokens never show in the error.
   *
   * @param action - the nodemailer call
   * @param signal - the attempt's deadline: an aborted attempt is not tried again
   */
  async run<T>(action: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    // the token first, before a connection waits for it: its request has its own time limit, and a failure is
    // reported as the token's, not as a server that stopped answering
    const used = await this.#tokens.token();
    const challenges = this.#tokens.challenges;
    try {
      return this.#succeeded(await action());
    } catch (error) {
      // after a challenge nodemailer has already logged in once more: that was the one more try
      const retried = this.#tokens.challenges !== challenges;
      if (!isRefusedLogin(error) || retried || signal?.aborted === true) throw this.#shown(error);
      const next = await this.#tokens.renew(used).catch(() => used); // no new token: the refusal is the news
      if (next === used) throw this.#shown(error);
    }
    try {
      return this.#succeeded(await action());
    } catch (error) {
      throw this.#shown(error);
    }
  }

  #succeeded<T>(result: T): T {
    this.#tokens.accepted();
    return result;
  }

  /** The typed error of a token failure, or the error with every token form hidden. */
  #shown(error: unknown): unknown {
    const typed = typeof error === 'object' && error !== null ? this.#failures.get(error) : undefined;
    if (typed !== undefined) return typed;
    const tokens = this.#tokens.tokens;
    return tokens.length === 0 ? error : scrubForeign(error, tokenForms(this.#tokens.user, tokens));
  }
}
