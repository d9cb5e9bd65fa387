/**
 * Posts a token request and reads the answer, bounded by a time limit, with Node's built-in `fetch`. Every failure
 * becomes an {@link OAuthTokenError} that says what happened in the provider's words and what to change.
 */
import { OAuthTokenError } from '../errors.js';
import { hideSecrets, secretForms } from '../secrets.js';
import { showValue } from '../truncate.js';
import { clockSkewNote, refusalHint } from './token-hints.js';
import type { TokenRequest } from './token-request.js';

/** A token response is a small JSON object; more than this is not a token. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** The lifetime assumed when the endpoint does not say (`expires_in` is only recommended by RFC 6749). */
const DEFAULT_LIFETIME_S = 3600;

/** An access token, as the endpoint granted it. */
export interface GrantedToken {
  /** The bearer token for XOAUTH2. */
  accessToken: string;
  /** Its lifetime in seconds, from the endpoint's `expires_in`. */
  lifetimeS: number;
}

/** How a request is made. */
export interface FetchOptions {
  /** The time limit of the whole request, in milliseconds (the SMTP Timeout). */
  timeoutMs: number;
  /** The clock, for the clock-skew check. */
  now: () => number;
}

/** Who answered, as a message names it. */
const NAMES = { microsoft365: 'Microsoft 365', google: 'Google', custom: 'The token endpoint' } as const;
/** Whose endpoint it is, as a message names it. */
const ENDPOINTS = {
  microsoft365: "Microsoft 365's token endpoint",
  google: "Google's token endpoint",
  custom: 'The token endpoint',
} as const;
/** The most characters of the provider's own words a message quotes. */
const SAID_CHARACTERS = 300;

/** The endpoint without its query: what a message may show of it. */
function where(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return showValue(url);
  }
}

/** The body, or `undefined` when it is larger than {@link MAX_RESPONSE_BYTES}. */
async function readCapped(response: Response): Promise<string | undefined> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function textField(body: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = body?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * What is under a `fetch failed`: the system error code (ECONNREFUSED, ENOTFOUND, a certificate error...), or the
 * innermost message (a redirect refused, a port fetch does not use).
 */
function causeOf(error: unknown): string {
  let current: unknown = error;
  let message: string | undefined;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth += 1) {
    const { code, message: text } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (typeof text === 'string' && text !== '' && text !== 'fetch failed') message = text;
    current = (current as { cause?: unknown }).cause;
  }
  return message === undefined ? 'an unknown network error' : showValue(message, { quote: false });
}

function unreachable(request: TokenRequest, error: unknown, timeoutMs: number): OAuthTokenError {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new OAuthTokenError(
      'timeout',
      `${NAMES[request.provider]} did not answer the token request at ${where(request.url)} within the SMTP Timeout (${Math.round(timeoutMs / 1000)} s)`,
      {
        hint: 'Check that this server can reach the token endpoint over HTTPS (port 443) through its firewall or proxy, or raise SMTP Timeout. The message is tried again after Minutes Between Retries.',
      },
    );
  }
  const cause = causeOf(error);
  if (/redirect/i.test(cause)) {
    return new OAuthTokenError(
      'invalid-response',
      `${ENDPOINTS[request.provider]} at ${where(request.url)} answered with a redirect, which is not followed (the request carries the client's credentials)`,
      { hint: "Check Token URL: give the token endpoint's own address, the one the redirect points to." },
    );
  }
  return new OAuthTokenError(
    'unreachable',
    `${ENDPOINTS[request.provider]} at ${where(request.url)} could not be reached (${cause})`,
    {
      hint:
        request.provider === 'custom'
          ? 'Check Token URL, and that this server can reach it (firewall, proxy, certificate).'
          : 'Check that this server can reach the provider over HTTPS (port 443): its DNS, firewall and proxy.',
    },
  );
}

/** Every form of the secrets a request carries: the client secret, and Google's signed assertion. */
function requestSecrets(request: TokenRequest): string[] {
  const assertion = request.form.get('assertion') ?? undefined;
  return [
    ...secretForms(
      request.form.get('client_id') ?? undefined,
      request.form.get('client_secret') ?? undefined,
    ),
    ...(assertion === undefined
      ? []
      : [assertion, ...assertion.split('.').filter((part) => part.length >= 16)]),
  ];
}

/**
 * Posts `request` and returns the token it grants.
 *
 * @param request - the endpoint and form, from `tokenRequest`
 * @param options - the time limit and the clock
 * @throws OAuthTokenError for an endpoint that cannot be reached, does not answer in time, refuses, or answers
 *   something that is not a token
 */
export async function fetchToken(request: TokenRequest, options: FetchOptions): Promise<GrantedToken> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  let response: Response;
  let text: string | undefined;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: request.form.toString(),
      redirect: 'error', // a redirect would post the client secret to another address
      signal,
    });
    text = await readCapped(response);
  } catch (error) {
    throw unreachable(request, error, options.timeoutMs);
  }
  const body = parseJson(text);
  const name = NAMES[request.provider];
  const skew = clockSkewNote(response.headers.get('date'), options.now());
  if (!response.ok) {
    // an endpoint may echo what it was sent: the client secret or the signed assertion never show
    const hidden = requestSecrets(request);
    const error = textField(body, 'error');
    const description = hideSecrets(textField(body, 'error_description') ?? '', hidden);
    const hint = refusalHint({ provider: request.provider, status: response.status, error, description });
    const said = [error === undefined ? undefined : hideSecrets(error, hidden), description.split(/\r?\n/)[0]]
      .filter((part): part is string => part !== undefined && part !== '')
      .map((part) => showValue(part, { quote: false, max: SAID_CHARACTERS }));
    throw new OAuthTokenError(
      'refused',
      `${name} refused the token request (HTTP ${response.status}${said.length > 0 ? `: ${said.join(': ')}` : ''})`,
      { hint: skew === undefined ? hint : `${skew} ${hint}`, status: response.status, oauthError: error },
    );
  }
  const accessToken = textField(body, 'access_token');
  const type = textField(body, 'token_type');
  if (accessToken === undefined || (type !== undefined && type.toLowerCase() !== 'bearer')) {
    throw new OAuthTokenError(
      'invalid-response',
      `${ENDPOINTS[request.provider]} at ${where(request.url)} answered HTTP ${response.status} without a bearer access token`,
      {
        hint:
          request.provider === 'custom'
            ? 'Check Token URL: it must be the OAuth 2.0 token endpoint, which answers with a JSON access_token.'
            : "The provider's answer was not a token: try again later, or check for a proxy that rewrites HTTPS.",
        status: response.status,
      },
    );
  }
  const expires = Number(body?.expires_in);
  return { accessToken, lifetimeS: Number.isFinite(expires) && expires > 0 ? expires : DEFAULT_LIFETIME_S };
}
