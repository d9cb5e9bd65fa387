/**
 * Where the OAuth 2.0 token requests go. The defaults are the providers' public endpoints; a national cloud (for
 * example Microsoft's US Government clouds) or a test token service sets its own.
 */
export interface OAuthEndpoints {
  /**
   * Microsoft's sign-in host: tokens come from `<microsoftLogin>/<tenant>/oauth2/v2.0/token`.
   * @default 'https://login.microsoftonline.com'
   */
  microsoftLogin?: string;
  /**
   * The scope asked of Microsoft: Exchange Online's, which SMTP AUTH needs.
   * @default 'https://outlook.office365.com/.default'
   */
  microsoftScope?: string;
  /**
   * Google's token endpoint, also the audience of the signed assertion.
   * @default 'https://oauth2.googleapis.com/token'
   */
  googleToken?: string;
}

/** The endpoints with every default filled in. */
export type ResolvedEndpoints = Required<OAuthEndpoints>;

/** The providers' public endpoints. */
export const DEFAULT_ENDPOINTS: ResolvedEndpoints = Object.freeze({
  microsoftLogin: 'https://login.microsoftonline.com',
  microsoftScope: 'https://outlook.office365.com/.default',
  googleToken: 'https://oauth2.googleapis.com/token',
});

/** The scope a Google service account asks for to send mail over SMTP. */
export const GOOGLE_MAIL_SCOPE = 'https://mail.google.com/';

/** The endpoints given, with the defaults for the rest. */
export function resolveEndpoints(endpoints: OAuthEndpoints | undefined): ResolvedEndpoints {
  return { ...DEFAULT_ENDPOINTS, ...endpoints };
}
