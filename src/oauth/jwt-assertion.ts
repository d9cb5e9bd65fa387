/**
 * The signed assertion of a Google service account (RFC 7523, as Google's OAuth 2.0 for service accounts describes
 * it): a JWT signed with RS256 by the account's private key, naming the mailbox to act for. Signed with
 * `node:crypto`, as nodemailer signs its own service-account assertion.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { OAuthTokenError } from '../errors.js';
import { normalizePrivateKey } from '../settings/oauth-fields.js';

/** How long the assertion is valid: Google accepts at most one hour. */
const LIFETIME_S = 3600;

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** What the assertion says. */
export interface AssertionClaims {
  /** The service account's email. */
  issuer: string;
  /** The mailbox to act for (domain-wide delegation). */
  subject: string;
  /** The token endpoint. */
  audience: string;
  /** The scopes asked for, space-separated. */
  scope: string;
  /** Now, in milliseconds since the epoch. */
  nowMs: number;
}

/**
 * A signed JWT assertion for the JWT-bearer grant.
 *
 * @param claims - who asks, for whom, of which endpoint, and when
 * @param privateKey - the service account's private key (PEM; `\n` escapes are accepted)
 * @throws OAuthTokenError (`private-key`) when the key cannot be read or cannot sign; the key is never quoted
 */
export function signedAssertion(claims: AssertionClaims, privateKey: string): string {
  const iat = Math.floor(claims.nowMs / 1000);
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({
      iss: claims.issuer,
      sub: claims.subject,
      aud: claims.audience,
      scope: claims.scope,
      iat,
      exp: iat + LIFETIME_S,
    }),
  );
  const input = `${header}.${payload}`;
  try {
    const key = createPrivateKey({ key: normalizePrivateKey(privateKey), format: 'pem' });
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType ?? 'non-RSA'} key`);
    return `${input}.${sign('RSA-SHA256', Buffer.from(input), key).toString('base64url')}`;
  } catch {
    // the cause is not kept: a parser's message may quote part of the key
    throw new OAuthTokenError(
      'private-key',
      'The Service Account Private Key could not be used to sign the token request: it is not a readable RSA private key',
      {
        hint: 'Paste the whole "private_key" value of the service account\'s JSON key file (from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----), or create a new JSON key for the service account in the Google Cloud console.',
      },
    );
  }
}
