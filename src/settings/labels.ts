import type { SettingsFieldName } from './defaults.js';

/**
 * The label of each settings field, as on the Email Settings screen. Kept apart from the field descriptors so
 * that the schema, which names fields by label in its messages, need not import the descriptors, which are typed
 * by the schema.
 */
export const FIELD_LABELS: Readonly<Record<SettingsFieldName, string>> = Object.freeze({
  defaultSenderAddress: 'Default Sender Email Address',
  smtpHost: 'SMTP Host',
  smtpPort: 'SMTP Port',
  smtpTimeoutSeconds: 'SMTP Timeout',
  useAuthentication: 'Use Authentication',
  authMethod: 'Authentication Method',
  username: 'Username',
  password: 'Password',
  oauthProvider: 'OAuth 2.0 Provider',
  oauthTenantId: 'Tenant ID',
  oauthClientId: 'Client ID',
  oauthClientSecret: 'Client Secret',
  oauthServiceAccount: 'Service Account Email',
  oauthPrivateKey: 'Service Account Private Key',
  oauthTokenUrl: 'Token URL',
  oauthScope: 'Scope',
  useTls: 'Use TLS',
  minutesBetweenRetries: 'Minutes Between Retries',
  maxErrorsBeforeCancel: 'Max Errors Before Cancel',
  throttlePerSecond: 'Throttle Email Messages',
  allowAttachments: 'Allow Email Attachments',
  attachmentSizeLimitMb: 'Limit Email Attachment File Size',
  useCensusSenderAddress: "Use Sender's Email from Census as Sender's Email Address",
  allowCustomSenderAddress: "Allow Custom Sender's Email Address",
});
