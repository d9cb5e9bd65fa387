// The settings page example in headless Chromium: fill the form wrong, see the errors, fix it, save, send a
// test email to a capture sink; the page's groups, its layout at 1366×768 and at 390 px wide, and where the answer
// to a post appears. Needs `npm run build` first (the example imports the built package).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SettingsPage, startSettingsPage } from '../../examples/settings-page/app.mjs';
import { EMAIL_SETTINGS_FIELDS } from '../../src/index.js';
import { type CaptureSink, startCaptureSink } from '../../src/sink/capture.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { startSmtpSink } from '../support/smtp-sink.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  CUSTOM_SCOPE,
  MAILBOX,
  startTokenEndpoint,
} from '../support/token-endpoint.js';

// The functions given to evaluate() run in Chromium. The project is type-checked without the DOM library, so the
// few browser globals they use are declared here, for this file only.
interface BrowserElement {
  id: string;
  tagName: string;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): {
    top: number;
    bottom: number;
    left: number;
    right: number;
    width: number;
    height: number;
  };
}
declare const window: { innerWidth: number; innerHeight: number };
declare const document: {
  activeElement: BrowserElement | null;
  body: { innerText: string };
  documentElement: { scrollWidth: number; scrollHeight: number };
  querySelector(selector: string): BrowserElement | null;
  querySelectorAll(selector: string): Iterable<BrowserElement>;
};
declare function getComputedStyle(element: BrowserElement): { fontFamily: string };

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
/** The order of findings on the page: problems first. */
const ORDER = ['problem', 'warning', 'ok'];

/** The screen of the issue: a laptop, where the result used to be 1,600 px below the fold. */
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

/** Field keys an administrator must never read: the camelCase ones (`password` is also an English word). */
const FIELD_KEYS = EMAIL_SETTINGS_FIELDS.map((f) => f.name as string).filter((name) => /[A-Z]/.test(name));

let sink: CaptureSink;
/** The DNS server the sender-domain check asks, so that no test asks a public one. */
let dns: TestDnsServer;
let app: SettingsPage;

/** The district's DNS: SPF for one relay address (not the one the page's relay sends from), DMARC that rejects. */
const DISTRICT_ZONE = {
  'district.k12.us': {
    MX: [{ exchange: 'mx.district.k12.us', priority: 10 }],
    TXT: ['v=spf1 ip4:192.0.2.10 -all'],
  },
  'mx.district.k12.us': { A: ['192.0.2.25'] },
  '_dmarc.district.k12.us': { TXT: ['v=DMARC1; p=reject'] },
};

/** A settings page whose domain check asks the test's DNS server. */
function startPage(extra: Parameters<typeof startSettingsPage>[0] = {}): Promise<SettingsPage> {
  return startSettingsPage({
    port: 0,
    domainCheck: { dnsServers: [dns.address], timeoutMs: 3000 },
    ...extra,
  });
}
let browser: Browser;
let page: Page;

beforeAll(async () => {
  sink = await startCaptureSink({ host: '127.0.0.1', port: 0 });
  dns = await startDnsServer(DISTRICT_ZONE);
  app = await startPage();
  if (!withBrowser) {
    process.stderr.write(
      `${CHROMIUM} not found: the browser scenario is skipped (apt-get install chromium)\n`,
    );
    return;
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await newPage(app);
  await mkdir(SHOTS, { recursive: true });
});

/** A page at 1366×768 that may reach nothing but the settings page `of`. */
async function newPage(of: SettingsPage): Promise<Page> {
  const context = await browser.newContext({ viewport: LAPTOP });
  await context.route(
    (url) => url.origin !== of.url,
    (route) => route.abort(),
  );
  return context.newPage();
}

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await sink?.close();
  await dns?.close();
});

const field = (name: string) => page.locator(`[name="${name}"]`);
const errorFor = (name: string) => page.locator(`[data-error-for="${name}"]`);

/** Where an element is against the window: fully in view, with nothing of it above or below. */
async function inView(locator: Locator) {
  return locator.evaluate((el) => {
    const box = el.getBoundingClientRect();
    return { top: box.top >= 0, bottom: box.bottom <= window.innerHeight, height: box.height > 0 };
  });
}

async function expectInViewAndFocused(locator: Locator, id: string) {
  await expect(inView(locator)).resolves.toEqual({ top: true, bottom: true, height: true });
  await expect(locator.page().evaluate(() => document.activeElement?.id)).resolves.toBe(id);
}

/** The text an administrator sees: hidden elements and folded groups left out. */
function visibleText(on: Page): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point, without what is hidden
  return on.evaluate(() => document.body.innerText);
}

/** The title of the group (legend or summary) that holds the field labelled `label`. */
function groupOf(label: string): Promise<string | undefined> {
  return page
    .getByLabel(label, { exact: true })
    .evaluate(
      (el) => el.closest('fieldset, details')?.querySelector('.group-title')?.textContent ?? undefined,
    );
}

async function openAdvanced() {
  const advanced = page.locator('details.group-advanced');
  if (!(await advanced.evaluate((el) => el.open))) {
    await advanced.locator('summary').click();
  }
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!withBrowser)('the settings page example', () => {
  it('renders every field with its label, help text and the timeout choices', async () => {
    await page.goto(app.url);
    await expect(page.locator('.status').textContent()).resolves.toBe('Not Configured');
    for (const label of LABELS) {
      await expect(page.getByLabel(label, { exact: true }).count()).resolves.toBe(1);
    }
    await expect(page.locator('form.settings .field').count()).resolves.toBe(LABELS.length);
    await expect(page.locator('form.settings .field label').allTextContents()).resolves.toEqual(LABELS);
    await expect(page.locator('form.settings .help').count()).resolves.toBe(LABELS.length);
    const timeouts = await field('smtpTimeoutSeconds').locator('option').allTextContents();
    expect(timeouts).toEqual(TIMEOUTS);
    await expect(field('smtpTimeoutSeconds').inputValue()).resolves.toBe('30');
  });

  it('groups the fields as the seed does, with retries and throttle under Advanced Settings, folded away', async () => {
    const groups: Record<string, string | undefined> = {};
    for (const label of LABELS) groups[label] = await groupOf(label);
    for (const label of ['Minutes Between Retries', 'Max Errors Before Cancel', 'Throttle Email Messages']) {
      expect(groups[label], label).toBe('Advanced Settings');
    }
    expect(Object.values(groups).filter((group) => group === 'Advanced Settings')).toHaveLength(3);
    for (const label of LABELS.slice(LABELS.indexOf('OAuth 2.0 Provider'), LABELS.indexOf('Use TLS'))) {
      expect(groups[label], label).toBe('OAuth 2.0');
    }
    expect(groups.Username).toBe('Authentication');
    expect(groups['Limit Email Attachment File Size']).toBe('Attachments');
    expect(Object.values(groups)).not.toContain(undefined);
    // Advanced Settings is folded and the OAuth 2.0 group hidden until chosen: the page is not one long list.
    await expect(page.locator('details.group-advanced').evaluate((el) => el.tagName)).resolves.toBe(
      'DETAILS',
    );
    await expect(field('throttlePerSecond').isVisible()).resolves.toBe(false);
    await expect(page.locator('#group-oauth').isVisible()).resolves.toBe(false);
    await expect(page.evaluate(() => document.documentElement.scrollHeight)).resolves.toBeLessThan(2300);
    await openAdvanced();
    await expect(field('throttlePerSecond').isVisible()).resolves.toBe(true);
  });

  it('disables Limit Email Attachment File Size unless Allow Email Attachments is checked, live', async () => {
    await expect(field('allowAttachments').isChecked()).resolves.toBe(false);
    await expect(field('attachmentSizeLimitMb').isDisabled()).resolves.toBe(true);
    await field('allowAttachments').check();
    await expect(field('attachmentSizeLimitMb').isEnabled()).resolves.toBe(true);
    await field('allowAttachments').uncheck();
    await expect(field('attachmentSizeLimitMb').isDisabled()).resolves.toBe(true);
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
    await expect(page.locator('#group-oauth').isVisible()).resolves.toBe(false);
    await field('authMethod').selectOption('oauth2');
    expect(await enabled()).toEqual(['oauthProvider']);
    await expect(page.locator('#group-oauth').isVisible()).resolves.toBe(true);
    await field('oauthProvider').selectOption('microsoft365');
    expect(await enabled()).toEqual(['oauthProvider', 'oauthTenantId', 'oauthClientId', 'oauthClientSecret']);
    // the fields of another provider are not shown
    await expect(field('oauthTenantId').isVisible()).resolves.toBe(true);
    await expect(field('oauthPrivateKey').isVisible()).resolves.toBe(false);
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
    await expect(page.locator('#group-oauth').isVisible()).resolves.toBe(false);
    await field('useAuthentication').check();
    await field('authMethod').selectOption('password');
    expect(await enabled()).toEqual(['password']);
  });

  it('shows each problem next to its field, keeps what was typed and never echoes the password', async () => {
    await field('defaultSenderAddress').fill('noreply@infinitecampus.com');
    await field('smtpHost').fill('smtp://mail.example.org');
    await field('smtpPort').fill('');
    await field('useTls').check();
    await openAdvanced();
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
    // The summary is where the eye is, and has the focus; Advanced Settings is open, as it holds a problem.
    await expectInViewAndFocused(page.locator('.error-summary'), 'save-result');
    await expect(field('throttlePerSecond').isVisible()).resolves.toBe(true);
    const text = await visibleText(page);
    for (const key of FIELD_KEYS) expect(text).not.toMatch(new RegExp(`\\b${key}\\b`));
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

    await expectInViewAndFocused(page.locator('.notice'), 'save-result');
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
    // At 1366×768 the result is in view and has the focus, not 1,600 px below; no internal id is shown.
    await expectInViewAndFocused(result, 'test-result');
    await expect(result.getAttribute('role')).resolves.toBe('status');
    expect(text).not.toContain('settings-page-test');
    expect(text).not.toContain('Message-ID');
    await expect(result.locator('.facts code').allTextContents()).resolves.toEqual([
      'messenger@district.k12.us',
      'admin@district.k12.us',
      `127.0.0.1:${sink.port}`,
      expect.stringContaining('OK: saved as message 1'),
    ]);
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]?.to).toEqual(['admin@district.k12.us']);
    expect(sink.messages[0]?.from).toBe('messenger@district.k12.us');
    await page.screenshot({ path: join(SHOTS, 'settings-final.png'), fullPage: true });
    console.info(`settings page screenshots: ${join(SHOTS, 'settings-errors.png')}, settings-final.png`);
  });

  it('shows what the sender-domain check found after the test email: problems first, each with its fix', async () => {
    const other = await startPage({
      domainCheck: { dnsServers: [dns.address], relayAddresses: ['192.0.2.99'], timeoutMs: 3000 },
    });
    const tab = await newPage(other);
    try {
      await tab.goto(other.url);
      await tab.locator('[name="defaultSenderAddress"]').fill('messenger@district.k12.us');
      await tab.locator('[name="smtpHost"]').fill('127.0.0.1');
      await tab.locator('[name="smtpPort"]').fill(String(sink.port));
      await tab.getByRole('button', { name: 'Save' }).click();
      await tab.getByText('Settings saved').waitFor();
      await tab.locator('[name="to"]').fill('admin@district.k12.us');
      await tab.getByRole('button', { name: 'Send test email' }).click();
      const result = tab.locator('#test-result');
      await result.waitFor();
      expect(await result.textContent()).toContain('Test email sent');

      const findings = result.locator('.finding');
      const severities = await findings.evaluateAll((items) =>
        items.map((item) => item.getAttribute('data-severity')),
      );
      expect(severities[0]).toBe('problem');
      expect(severities).toEqual([...severities].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)));
      const text = (await findings.allTextContents()).join('\n');
      expect(text).toMatch(/Problem · SPF: .*192\.0\.2\.99/);
      expect(text).toContain('Fix:');
      expect(text).toContain('ip4:192.0.2.99');
      expect(text).toMatch(/Problem · DMARC: .*reject/i);
      expect(text).toContain('v=spf1 ip4:192.0.2.10 -all'); // the record as found
      // The record is a literal; the findings' words are not set in monospace.
      await expect(result.locator('.finding .record code').first().textContent()).resolves.toContain('v=');
      const font = await findings.first().evaluate((item) => getComputedStyle(item).fontFamily);
      expect(font).not.toMatch(/mono/i);
      expect(dns.count('_dmarc.district.k12.us')).toBeGreaterThan(0);
    } finally {
      await tab.context().close();
      await other.close();
    }
  });

  it('explains a failed check in plain words, in view and focused, with no stage or internal name', async () => {
    const port = await closedPort();
    await field('smtpPort').fill(String(port));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved').waitFor();
    await page.getByRole('button', { name: 'Send test email' }).click();
    const result = page.locator('#test-result[data-status="failed"]');
    await result.waitFor();

    await expect(result.locator('h3').textContent()).resolves.toBe('Could not reach the SMTP server');
    await expect(result.getAttribute('role')).resolves.toBe('alert');
    await expect(result.locator('.result-hint').textContent()).resolves.toContain('Check SMTP Port'); // the library's
    await expectInViewAndFocused(result, 'test-result');
    const text = await visibleText(page);
    expect(text).not.toMatch(/\bStage\b/);
    expect(text).not.toContain('The connection check failed');
    expect(text).not.toContain('settings-page-test');
    for (const key of FIELD_KEYS) expect(text).not.toMatch(new RegExp(`\\b${key}\\b`));
    // Guidance is in the normal font; only the literal server address is code.
    const fonts = await page.evaluate(() =>
      ['#test-result .result-hint', '#test-result .result-message', '#help-smtpHost', '#test-help'].map(
        (selector) => {
          const el = document.querySelector(selector);
          return el === null ? `${selector}: missing` : getComputedStyle(el).fontFamily;
        },
      ),
    );
    for (const font of fonts) expect(font).not.toMatch(/mono|missing/i);
    await expect(result.locator('.facts code').allTextContents()).resolves.toEqual([`127.0.0.1:${port}`]);
    await expect(page.locator('.help code, .result-hint code, .result-message code').count()).resolves.toBe(
      0,
    );
    await page.screenshot({ path: join(SHOTS, 'settings-failed-check.png') });
  });

  it('fits a 390 px wide screen: no horizontal scrolling, every control within the width', async () => {
    await page.setViewportSize(PHONE);
    try {
      await openAdvanced();
      await field('useAuthentication').check();
      await field('authMethod').selectOption('oauth2');
      await field('oauthProvider').selectOption('google'); // the widest choice, and the private key
      await page.locator('details.technical > summary').click();
      const layout = await page.evaluate(() => {
        const outside = [
          ...document.querySelectorAll('input, select, textarea, button, summary, code, h1, dl'),
        ]
          .map((el) => ({ el, box: el.getBoundingClientRect() }))
          .filter(({ box }) => box.width > 0 && (box.left < 0 || box.right > window.innerWidth))
          .map(({ el }) => el.getAttribute('name') ?? el.id ?? el.tagName);
        return { scrollWidth: document.documentElement.scrollWidth, outside };
      });
      expect(layout).toEqual({ scrollWidth: PHONE.width, outside: [] });
      await page.screenshot({ path: join(SHOTS, 'settings-390.png'), fullPage: true });
    } finally {
      await page.setViewportSize(LAPTOP);
    }
  });
});

describe.skipIf(!withBrowser)('the settings page example with nothing saved', () => {
  it('asks to save the settings first, in view and focused, instead of reporting a failed check', async () => {
    const empty = await startPage();
    const fresh = await newPage(empty);
    try {
      await fresh.goto(empty.url);
      await fresh.locator('[name="to"]').fill('admin@district.k12.us');
      await fresh.getByRole('button', { name: 'Send test email' }).click();
      const result = fresh.locator('#test-result');
      await result.waitFor();
      await expect(result.locator('h3').textContent()).resolves.toBe(
        'Save your settings first, then send a test email.',
      );
      await expect(result.getAttribute('data-status')).resolves.toBe('info');
      await expectInViewAndFocused(result, 'test-result');
      const text = await visibleText(fresh);
      expect(text).not.toContain('The connection check failed');
      expect(text).not.toMatch(/\bStage\b/);
    } finally {
      await fresh.context().close();
      await empty.close();
    }
  });
});

describe('the settings page example without a browser', () => {
  const post = async (url: string, body: Record<string, string>) => {
    const response = await fetch(url, { method: 'POST', body: new URLSearchParams(body) });
    return { status: response.status, html: await response.text() };
  };

  it('keeps the saved password when Password is left blank, never shows it, and reports a failed check', async () => {
    const other = await startPage();
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
      // The sink takes no login: the check stops at the login, said in plain words, with the library's hint.
      const test = await post(`${other.url}/test`, { to: 'admin@district.k12.us' });
      expect(test.html).toContain('<h3>The server refused the login</h3>');
      expect(test.html).not.toContain('Stage');
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
    const other = await startPage();
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
      expect(failed.html).toContain('<h3>Could not get a sign-in token from the token service</h3>');
      expect(failed.html).not.toContain('Stage');
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

  it('renders the attachment limit disabled unless Allow Email Attachments is saved checked, keeping the saved limit', async () => {
    const other = await startPage();
    const limitInput = (html: string) =>
      /<input[^>]*name="attachmentSizeLimitMb"[^>]*>/.exec(html)?.[0] ?? '';
    try {
      const form = { defaultSenderAddress: 'messenger@district.k12.us', smtpHost: '127.0.0.1' };
      const start = await (await fetch(other.url)).text();
      expect(limitInput(start)).toMatch(/ disabled[ >]/);
      const on = await post(`${other.url}/settings`, {
        ...form,
        allowAttachments: 'on',
        attachmentSizeLimitMb: '5',
      });
      expect(on.html).toContain('Settings saved');
      expect(limitInput(on.html)).not.toMatch(/ disabled[ >]/);
      expect(limitInput(on.html)).toContain('value="5"');
      // the browser does not post a disabled field: the saved limit is kept for when attachments are on again
      const off = await post(`${other.url}/settings`, form);
      expect(off.html).toContain('Settings saved');
      expect(limitInput(off.html)).toMatch(/ disabled[ >]/);
      expect(limitInput(off.html)).toContain('value="5"');
    } finally {
      await other.close();
    }
  });

  it('asks to save the settings first when Send test email comes before any save', async () => {
    const other = await startPage();
    try {
      const test = await post(`${other.url}/test`, { to: 'admin@district.k12.us' });
      expect(test.status).toBe(200);
      expect(test.html).toContain('Save your settings first, then send a test email.');
      expect(test.html).not.toContain('The connection check failed');
      expect(test.html).toContain('data-status="info"');
    } finally {
      await other.close();
    }
  });
});
