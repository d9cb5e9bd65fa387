// The settings page example in headless Chromium: fill the form wrong, see the errors, fix it, save, send a
// test email to a capture sink. Needs `npm run build` first (the example imports the built package).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SettingsPage, startSettingsPage } from '../../examples/settings-page/app.mjs';
import { type CaptureSink, startCaptureSink } from '../../src/sink/capture.js';
import { startSmtpSink } from '../support/smtp-sink.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  CUSTOM_SCOPE,
  MAILBOX,
  startTokenEndpoint,
} from '../support/token-endpoint.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// The seed's labels, in its order.
const LABELS = [
  'Default Sender Email Address',
  'SMTP Host',
  'SMTP Port',
  'SMTP Timeout',
  'Use Authentication',
  'Authentication Method',
  'Username',
  'Password',
  'OAuth 2.0 Provider',
  'Tenant ID',
  'Client ID',
  'Client Secret',
  'Service Account Email',
  'Service Account Private Key',
  'Token URL',
  'Scope',
  'Use TLS',
  'Minutes Between Retries',
  'Max Errors Before Cancel',
  'Throttle Email Messages',
  'Allow Email Attachments',
  'Limit Email Attachment File Size',
  "Use Sender's Email from Census as Sender's Email Address",
  "Allow Custom Sender's Email Address",
];

// Chromium comes from Debian's package, which .ci/run installs. On a machine without it, outside CI, the browser
// scenario is skipped (the run says so); in CI it always runs, and fails if Chromium is missing.
const CHROMIUM = '/usr/bin/chromium';
const withBrowser = existsSync(CHROMIUM) || process.env.CI !== undefined;

const TIMEOUTS = ['30 seconds (default)', '1 minute', '2 minutes', '3 minutes', '4 minutes', '5 minutes'];
const PASSWORD = 'Pa55word-never-shown';
const SHOTS = join(tmpdir(), 'messenger-email-settings-page');

let sink: CaptureSink;
let app: SettingsPage;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  sink = await startCaptureSink({ host: '127.0.0.1', port: 0 });
  app = await startSettingsPage({ port: 0 });
  if (!withBrowser) {
    process.stderr.write(
      `${CHROMIUM} not found: the browser scenario is skipped (apt-get install chromium)\n`,
    );
    return;
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  // Nothing but the page itself may be reached.
  await context.route(
    (url) => url.origin !== app.url,
    (route) => route.abort(),
  );
  page = await context.newPage();
  await mkdir(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await sink?.close();
});

const field = (name: string) => page.locator(`[name="${name}"]`);
const errorFor = (name: string) => page.locator(`[data-error-for="${name}"]`);

describe.skipIf(!withBrowser)('the settings page example', () => {
  it('renders every field with its label, help text and the timeout choices', async () => {
    await page.goto(app.url);
    await expect(page.locator('.status').textContent()).resolves.toBe('Not Configured');
    for (const label of LABELS) {
      await expect(page.getByLabel(label, { exact: true }).count()).resolves.toBe(1);
    }
    await expect(page.locator('form.settings .field').count()).resolves.toBe(LABELS.length);
    await expect(page.locator('form.settings .help').count()).resolves.toBe(LABELS.length);
    const timeouts = await field('smtpTimeoutSeconds').locator('option').allTextContents();
    expect(timeouts).toEqual(TIMEOUTS);
    await expect(field('smtpTimeoutSeconds').inputValue()).resolves.toBe('30');
  });

  it('unlocks Username and Password only with Use Authentication', async () => {
    await expect(field('username').isDisabled()).resolves.toBe(true);
    await expect(field('password').isDisabled()).resolves.toBe(true);
    await field('useAuthentication').check();
    await expect(field('username').isEnabled()).resolves.toBe(true);
    await expect(field('password').isEnabled()).resolves.toBe(true);
    // SMTP Port's required marker follows Use TLS the same way.
    const portMarker = page.locator('.field:has([name="smtpPort"]) .required');
    await expect(portMarker.isVisible()).resolves.toBe(false);
    await field('useTls').check();
    await expect(portMarker.isVisible()).resolves.toBe(true);
    await field('useTls').uncheck();
  });

  it('follows Authentication Method and the OAuth 2.0 provider live, showing only the chosen fields', async () => {
    const enabled = async () => {
      const names = ['password', 'oauthProvider', 'oauthTenantId', 'oauthClientId', 'oauthClientSecret'];
      names.push('oauthServiceAccount', 'oauthPrivateKey', 'oauthTokenUrl', 'oauthScope');
      const out: string[] = [];
      for (const name of names) if (await field(name).isEnabled()) out.push(name);
      return out;
    };
    expect(await enabled()).toEqual(['password']); // Use Authentication is checked, the method is the default
    await field('authMethod').selectOption('oauth2');
    expect(await enabled()).toEqual(['oauthProvider']);
    await field('oauthProvider').selectOption('microsoft365');
    expect(await enabled()).toEqual(['oauthProvider', 'oauthTenantId', 'oauthClientId', 'oauthClientSecret']);
    await field('oauthProvider').selectOption('google');
    expect(await enabled()).toEqual(['oauthProvider', 'oauthServiceAccount', 'oauthPrivateKey']);
    await expect(field('oauthPrivateKey').evaluate((el) => el.tagName)).resolves.toBe('TEXTAREA');
    await field('oauthProvider').selectOption('custom');
    expect(await enabled()).toEqual([
      'oauthProvider',
      'oauthClientId',
      'oauthClientSecret',
      'oauthTokenUrl',
      'oauthScope',
    ]);
    const scopeMarker = page.locator('.field:has([name="oauthScope"]) .required');
    await expect(scopeMarker.isVisible()).resolves.toBe(false); // optional
    await expect(page.locator('.field:has([name="oauthTokenUrl"]) .required').isVisible()).resolves.toBe(
      true,
    );
    await field('useAuthentication').uncheck();
    expect(await enabled()).toEqual([]);
    await field('useAuthentication').check();
    await field('authMethod').selectOption('password');
    expect(await enabled()).toEqual(['password']);
  });

  it('shows each problem next to its field, keeps what was typed and never echoes the password', async () => {
    await field('defaultSenderAddress').fill('noreply@infinitecampus.com');
    await field('smtpHost').fill('smtp://mail.example.org');
    await field('smtpPort').fill('');
    await field('useTls').check();
    await field('throttlePerSecond').fill('1000');
    await field('username').fill('mailer');
    await field('password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Save' }).click();
    await errorFor('smtpPort').waitFor();

    await expect(errorFor('defaultSenderAddress').textContent()).resolves.toContain(
      'Default Sender Email Address must not contain "infinitecampus"',
    );
    await expect(errorFor('smtpHost').textContent()).resolves.toContain(
      'SMTP Host must not include a scheme',
    );
    await expect(errorFor('smtpPort').textContent()).resolves.toContain(
      'SMTP Port is required when Use TLS is checked',
    );
    await expect(errorFor('throttlePerSecond').textContent()).resolves.toContain(
      'Throttle Email Messages must be a whole number from 1 to 999',
    );
    await expect(page.locator('[data-error-for]').count()).resolves.toBe(4);
    await expect(page.locator('.error-summary li').count()).resolves.toBe(4);
    await expect(field('smtpHost').inputValue()).resolves.toBe('smtp://mail.example.org');
    await expect(field('username').inputValue()).resolves.toBe('mailer');
    await expect(field('password').inputValue()).resolves.toBe('');
    expect(await page.content()).not.toContain(PASSWORD);
    await page.screenshot({ path: join(SHOTS, 'settings-errors.png'), fullPage: true });
  });

  it('saves the corrected settings', async () => {
    await field('defaultSenderAddress').fill('messenger@district.k12.us');
    await field('smtpHost').fill('127.0.0.1');
    await field('smtpPort').fill(String(sink.port));
    await field('useTls').uncheck();
    await field('useAuthentication').uncheck(); // the sink takes no login
    await field('throttlePerSecond').fill('10');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved').waitFor();

    await expect(page.locator('[data-error-for]').count()).resolves.toBe(0);
    await expect(page.locator('.status').textContent()).resolves.toBe('Configured');
    await expect(field('smtpPort').inputValue()).resolves.toBe(String(sink.port));
    await expect(field('username').isDisabled()).resolves.toBe(true);
  });

  it('sends a test email that the sink receives', async () => {
    await field('to').fill('admin@district.k12.us');
    await page.getByRole('button', { name: 'Send test email' }).click();
    const result = page.locator('#test-result');
    await result.waitFor();

    const text = await result.textContent();
    expect(text).toContain('Test email sent');
    expect(text).toContain('messenger@district.k12.us');
    expect(text).toContain('OK: saved as message 1');
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]?.to).toEqual(['admin@district.k12.us']);
    expect(sink.messages[0]?.from).toBe('messenger@district.k12.us');
    await page.screenshot({ path: join(SHOTS, 'settings-final.png'), fullPage: true });
    console.info(`settings page screenshots: ${join(SHOTS, 'settings-errors.png')}, settings-final.png`);
  });
});

describe('the settings page example without a browser', () => {
  const post = async (url: string, body: Record<string, string>) => {
    const response = await fetch(url, { method: 'POST', body: new URLSearchParams(body) });
    return { status: response.status, html: await response.text() };
  };

  it('keeps the saved password when Password is left blank, never shows it, and reports a failed check', async () => {
    const other = await startSettingsPage({ port: 0 });
    try {
      const form = {
        defaultSenderAddress: 'messenger@district.k12.us',
        smtpHost: '127.0.0.1',
        smtpPort: String(sink.port),
        useAuthentication: 'on',
        username: 'mailer',
      };
      const first = await post(`${other.url}/settings`, { ...form, password: PASSWORD });
      expect(first.status).toBe(200);
      expect(first.html).toContain('placeholder="unchanged"');
      const again = await post(`${other.url}/settings`, { ...form, password: '' });
      expect(again.html).toContain('Settings saved');
      // The sink takes no login: the check stops at the auth stage, with a hint.
      const test = await post(`${other.url}/test`, { to: 'admin@district.k12.us' });
      expect(test.html).toMatch(/<dt>Stage<\/dt><dd>auth<\/dd>/);
      expect(test.html).toContain('uncheck Use Authentication'); // it takes no login at all
      for (const html of [first.html, again.html, test.html]) expect(html).not.toContain(PASSWORD);
    } finally {
      await other.close();
    }
  });

  it('saves OAuth 2.0 settings, keeps the client secret when left blank, and sends the test email with a token', async () => {
    const endpoint = await startTokenEndpoint();
    const oauthSink = await startSmtpSink({
      xoauth2: (user, token) => (user === MAILBOX && endpoint.isValid(token) ? 'ok' : 'challenge'),
    });
    const other = await startSettingsPage({ port: 0 });
    try {
      const form = {
        defaultSenderAddress: MAILBOX,
        smtpHost: '127.0.0.1',
        smtpPort: String(oauthSink.port),
        useAuthentication: 'on',
        authMethod: 'oauth2',
        username: MAILBOX,
        oauthProvider: 'custom',
        oauthTokenUrl: endpoint.customUrl,
        oauthClientId: CLIENT_ID,
        oauthScope: CUSTOM_SCOPE,
      };
      const first = await post(`${other.url}/settings`, { ...form, oauthClientSecret: CLIENT_SECRET });
      expect(first.html).toContain('Settings saved');
      expect(first.html).toMatch(
        /name="oauthClientSecret"[^>]*placeholder="unchanged"|placeholder="unchanged"[^>]*name="oauthClientSecret"/,
      );
      const again = await post(`${other.url}/settings`, { ...form, oauthClientSecret: '' });
      expect(again.html).toContain('Settings saved');
      const test = await post(`${other.url}/test`, { to: 'admin@district.k12.us' });
      expect(test.html).toContain('Test email sent');
      expect(oauthSink.messages).toHaveLength(1);
      expect(oauthSink.xoauth2Logins.at(-1)).toMatchObject({ user: MAILBOX, verdict: 'ok' });
      const wrong = await post(`${other.url}/settings`, { ...form, oauthClientSecret: 'Wr0ng-SECRET' });
      expect(wrong.html).toContain('Settings saved');
      const failed = await post(`${other.url}/test`, { to: 'admin@district.k12.us' });
      expect(failed.html).toMatch(/<dt>Stage<\/dt><dd>token<\/dd>/);
      expect(failed.html).toContain('Check Client ID and Client Secret');
      const tokens = endpoint.calls.flatMap((call) => (call.token === undefined ? [] : [call.token]));
      for (const html of [first.html, again.html, test.html, wrong.html, failed.html]) {
        expect(html).not.toContain(CLIENT_SECRET);
        expect(html).not.toContain('Wr0ng-SECRET');
        for (const token of tokens) expect(html).not.toContain(token);
      }
    } finally {
      await other.close();
      await oauthSink.close();
      await endpoint.close();
    }
  });
});
