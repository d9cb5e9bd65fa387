/** A known email provider's SMTP relay, and the SPF include that authorizes the servers it sends from. */
export interface RelayProvider {
  /** The provider's name, for messages: `'Microsoft 365'`. */
  label: string;
  /** The domain a sender domain's SPF record includes for it: `'spf.protection.outlook.com'`. */
  include: string;
  /** The SMTP host names it is recognised by; `*` stands for one label (a tenant, a region). */
  hosts: readonly string[];
}

/** The relays recognised by {@link relayProvider}, with the SPF include each needs. */
export const RELAY_PROVIDERS: readonly RelayProvider[] = [
  {
    label: 'Microsoft 365',
    include: 'spf.protection.outlook.com',
    hosts: ['smtp.office365.com', 'smtp-mail.outlook.com', '*.mail.protection.outlook.com'],
  },
  {
    label: 'Google Workspace',
    include: '_spf.google.com',
    hosts: ['smtp.gmail.com', 'smtp-relay.gmail.com'],
  },
  { label: 'SendGrid', include: 'sendgrid.net', hosts: ['smtp.sendgrid.net'] },
  { label: 'Amazon SES', include: 'amazonses.com', hosts: ['email-smtp.*.amazonaws.com'] },
  { label: 'Mailgun', include: 'mailgun.org', hosts: ['smtp.mailgun.org', 'smtp.eu.mailgun.org'] },
  { label: 'Postmark', include: 'spf.mtasv.net', hosts: ['smtp.postmarkapp.com'] },
];

function hostPattern(host: string): RegExp {
  const escaped = host
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[a-z0-9-]+');
  return new RegExp(`^${escaped}$`);
}

const PATTERNS = RELAY_PROVIDERS.flatMap((provider) =>
  provider.hosts.map((host) => ({ provider, pattern: hostPattern(host) })),
);

/**
 * The known provider whose relay `smtpHost` is (case-insensitive, a trailing dot ignored), or undefined:
 * `relayProvider('smtp.office365.com')?.include === 'spf.protection.outlook.com'`.
 */
export function relayProvider(smtpHost: string): RelayProvider | undefined {
  const host = String(smtpHost).trim().toLowerCase().replace(/\.$/, '');
  return PATTERNS.find(({ pattern }) => pattern.test(host))?.provider;
}
