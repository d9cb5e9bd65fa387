// How the Email Settings tab groups its fields. The groups follow the order of the settings screen, so the fields
// keep their order; the seed puts retries and throttling under "Advanced Settings", folded away until needed.
import { EMAIL_SETTINGS_FIELDS } from 'messenger-email';

/**
 * The groups, in order. `fields` lists field names; `groups` holds groups shown inside this one (OAuth 2.0 inside
 * Authentication); `collapsible` folds the group away (a `<details>`) unless one of its fields has an error.
 * `shownWith` names the field whose enabled state shows or hides the whole group: the OAuth 2.0 fields appear once
 * Authentication Method is OAuth 2.0.
 */
export const FIELD_GROUPS = [
  {
    id: 'server',
    legend: 'Sender and SMTP server',
    fields: ['defaultSenderAddress', 'smtpHost', 'smtpPort', 'smtpTimeoutSeconds'],
  },
  {
    id: 'authentication',
    legend: 'Authentication',
    fields: ['useAuthentication', 'authMethod', 'username', 'password'],
    groups: [
      {
        id: 'oauth',
        legend: 'OAuth 2.0',
        shownWith: 'oauthProvider',
        fields: [
          'oauthProvider',
          'oauthTenantId',
          'oauthClientId',
          'oauthClientSecret',
          'oauthServiceAccount',
          'oauthPrivateKey',
          'oauthTokenUrl',
          'oauthScope',
        ],
      },
    ],
  },
  { id: 'encryption', legend: 'Encryption', fields: ['useTls'] },
  {
    id: 'advanced',
    legend: 'Advanced Settings',
    collapsible: true,
    fields: ['minutesBetweenRetries', 'maxErrorsBeforeCancel', 'throttlePerSecond'],
  },
  { id: 'attachments', legend: 'Attachments', fields: ['allowAttachments', 'attachmentSizeLimitMb'] },
  {
    id: 'sender-choice',
    legend: 'Sender address on templates',
    fields: ['useCensusSenderAddress', 'allowCustomSenderAddress'],
  },
];

function namesIn(groups) {
  return groups.flatMap((group) => [...group.fields, ...namesIn(group.groups ?? [])]);
}

/**
 * The groups to render. A field the library has that no group names (one added in a later version) goes in a last
 * group, so that every field is always on the page.
 */
export function fieldGroups() {
  const grouped = new Set(namesIn(FIELD_GROUPS));
  const rest = EMAIL_SETTINGS_FIELDS.map((field) => field.name).filter((name) => !grouped.has(name));
  return rest.length === 0 ? FIELD_GROUPS : [...FIELD_GROUPS, { id: 'other', legend: 'Other', fields: rest }];
}
