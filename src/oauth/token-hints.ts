/**
 * What an administrator should change, for each answer a token endpoint gives. Microsoft names the cause in an
 * `AADSTS` code; Google in its `error` and description; any other endpoint in the standard OAuth 2.0 error codes
 * (RFC 6749 section 5.2).
 */
import type { OAuthProvider } from '../settings/defaults.js';

/** What the token endpoint answered. */
export interface RefusedAnswer {
  provider: OAuthProvider;
  status: number;
  /** The OAuth `error`, e.g. `invalid_client`. */
  error: string | undefined;
  /** The OAuth `error_description`. */
  description: string;
}

const CLOCK =
  "Check this server's clock: set it from a time server (NTP). Token requests are refused when the clock is off by more than a few minutes.";

const CONSENT =
  'Grant admin consent: in Microsoft Entra, open the app registration > API permissions, add Office 365 Exchange Online > Application permissions > SMTP.SendAsApp, then click "Grant admin consent". See docs/providers.md.';

/** Microsoft's `AADSTS` codes, most specific first. */
const MICROSOFT: readonly [RegExp, string][] = [
  [
    /AADSTS(90002|900023|90013|900021)\b/,
    "Check Tenant ID: use the Directory (tenant) ID from the app registration's Overview page in Microsoft Entra (a GUID), or the domain district.onmicrosoft.com.",
  ],
  [
    /AADSTS700016\b/,
    "Check Client ID and Tenant ID: no application with this Client ID is registered in this tenant. Copy the Application (client) ID from the app registration's Overview page, and the Directory (tenant) ID from the same page.",
  ],
  [
    /AADSTS7000215\b/,
    "Check Client Secret: enter the secret's Value (shown only when it was created), not its Secret ID. If the value was lost, create a new client secret under Certificates & secrets.",
  ],
  [
    /AADSTS7000222\b/,
    'The client secret has expired: create a new one in the app registration (Certificates & secrets) and enter its Value as Client Secret.',
  ],
  [/AADSTS(65001|650057|500011|501051)\b/, CONSENT],
  [/AADSTS(700024|700027|7000274|50058)\b/, CLOCK],
  [
    /AADSTS(7000112|7000113)\b/,
    'The application is disabled in this tenant: enable it in Microsoft Entra (Enterprise applications > Properties > Enabled for users to sign in).',
  ],
  [
    /AADSTS70011\b/,
    'The scope was refused: SMTP needs https://outlook.office365.com/.default (set by this package); check that the tenant is in the commercial cloud or set the endpoints of your national cloud.',
  ],
];

/** Google's answers, by `error` and description. */
function googleHint(answer: RefusedAnswer): string | undefined {
  const { error, description } = answer;
  if (/iat|exp\b|timeframe|short-lived|clock/i.test(description)) return CLOCK;
  if (error === 'unauthorized_client') {
    return "Domain-wide delegation is not set up for this service account: in the Google Admin console (Security > Access and data control > API controls > Manage domain-wide delegation) add the service account's Client ID with the scope https://mail.google.com/. See docs/providers.md.";
  }
  if (/signature/i.test(description)) {
    return 'The Service Account Private Key does not belong to the Service Account Email, or the key was deleted: create a new JSON key for the service account and paste its "private_key".';
  }
  if (/email|user id|subject|sub\b/i.test(description)) {
    return 'Check Username: it must be a mailbox of your Google Workspace domain (the service account sends as that mailbox).';
  }
  if (error === 'invalid_client' || /not found|disabled|deleted/i.test(description)) {
    return 'Check Service Account Email: the service account was not found, or it is disabled. Copy "client_email" from the service account\'s JSON key file.';
  }
  return undefined;
}

/** The standard OAuth 2.0 error codes, for a custom endpoint (and the fallback for the others). */
function standardHint(answer: RefusedAnswer): string {
  switch (answer.error) {
    case 'invalid_client':
      return 'Check Client ID and Client Secret: the token endpoint did not accept them.';
    case 'unauthorized_client':
      return 'The client is not allowed the client-credentials grant: allow it for this client at your identity provider.';
    case 'invalid_scope':
      return 'Check Scope: the token endpoint refused the scope asked for (leave it blank if the endpoint needs none).';
    case 'invalid_grant':
      return "The token endpoint refused the grant: check the credentials and that this server's clock is right.";
    default:
      return answer.status >= 500
        ? "The token service failed on its side: the message is tried again after Minutes Between Retries. If it goes on, check the provider's status page."
        : "Check the OAuth 2.0 settings against your provider's instructions (docs/providers.md).";
  }
}

/**
 * The likely cause of a refused token request, as something to change.
 *
 * @param answer - the provider, the HTTP status and the OAuth error the endpoint answered
 */
export function refusalHint(answer: RefusedAnswer): string {
  if (answer.provider === 'microsoft365') {
    const match = MICROSOFT.find(([pattern]) => pattern.test(answer.description));
    if (match !== undefined) return match[1];
  }
  if (answer.provider === 'google') {
    const hint = googleHint(answer);
    if (hint !== undefined) return hint;
  }
  return standardHint(answer);
}

/** More than this between the token service's clock and this server's is reported. */
const SKEW_MS = 5 * 60_000;

/**
 * A sentence about this server's clock when it is off the token service's (read from its `Date` header) by more
 * than five minutes; `undefined` otherwise.
 *
 * @param serverDate - the token response's `Date` header
 * @param nowMs - this server's clock when the response arrived
 */
export function clockSkewNote(serverDate: string | null, nowMs: number): string | undefined {
  if (serverDate === null) return undefined;
  const theirs = Date.parse(serverDate);
  if (Number.isNaN(theirs)) return undefined;
  const skew = nowMs - theirs;
  if (Math.abs(skew) <= SKEW_MS) return undefined;
  const minutes = Math.round(Math.abs(skew) / 60_000);
  return `This server's clock is ${minutes} minutes ${skew > 0 ? 'ahead of' : 'behind'} the token service's: set it from a time server (NTP), as token requests are refused when clocks disagree.`;
}
