/**
 * The token request each OAuth 2.0 provider expects, as an HTTP form: Microsoft's client-credentials grant (RFC 6749
 * section 4.4) for Exchange Online, Google's JWT-bearer grant (RFC 7523) for a service account acting for a mailbox,
 * and the client-credentials grant of any other token endpoint.
 */
import type { OAuthProvider } from '../settings/defaults.js';
import type { EmailSettings } from '../settings/schema.js';
import { signedAssertion } from './jwt-assertion.js';
import { GOOGLE_MAIL_SCOPE, type ResolvedEndpoints } from './options.js';

/** One token request: where it goes and the form it posts. */
export interface TokenRequest {
  /** The provider, for the error's hint. */
  provider: OAuthProvider;
  /** The token endpoint. */
  url: string;
  /** The form body. */
  form: URLSearchParams;
}

/** The settings an OAuth 2.0 login needs: the provider's fields and the mailbox. */
type OAuthSettings = Pick<
  EmailSettings,
  | 'username'
  | 'oauthProvider'
  | 'oauthTenantId'
  | 'oauthClientId'
  | 'oauthClientSecret'
  | 'oauthServiceAccount'
  | 'oauthPrivateKey'
  | 'oauthTokenUrl'
  | 'oauthScope'
>;

/**
 * The token request for a set of settings whose Authentication Method is OAuth 2.0.
 *
 * @param settings - parsed settings (the provider's fields are there: the schema requires them)
 * @param endpoints - where Microsoft's and Google's endpoints are
 * @param nowMs - now, for the time claims of Google's assertion
 * @throws OAuthTokenError (`private-key`) when Google's assertion cannot be signed
 */
export function tokenRequest(
  settings: OAuthSettings,
  endpoints: ResolvedEndpoints,
  nowMs: number,
): TokenRequest {
  const provider = settings.oauthProvider ?? 'custom';
  if (provider === 'microsoft365') {
    const tenant = encodeURIComponent(settings.oauthTenantId ?? '');
    return {
      provider,
      url: `${endpoints.microsoftLogin.replace(/\/+$/, '')}/${tenant}/oauth2/v2.0/token`,
      form: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: settings.oauthClientId ?? '',
        client_secret: settings.oauthClientSecret ?? '',
        scope: endpoints.microsoftScope,
      }),
    };
  }
  if (provider === 'google') {
    const assertion = signedAssertion(
      {
        issuer: settings.oauthServiceAccount ?? '',
        subject: settings.username ?? '',
        audience: endpoints.googleToken,
        scope: GOOGLE_MAIL_SCOPE,
        nowMs,
      },
      settings.oauthPrivateKey ?? '',
    );
    return {
      provider,
      url: endpoints.googleToken,
      form: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
    };
  }
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: settings.oauthClientId ?? '',
    client_secret: settings.oauthClientSecret ?? '',
  });
  if (settings.oauthScope !== undefined) form.set('scope', settings.oauthScope);
  return { provider, url: settings.oauthTokenUrl ?? '', form };
}
