// The browser-safe settings entry (`messenger-email/settings`): bundled by esbuild for the browser (which fails on
// any Node built-in), its size reported, and the bundle run in headless Chromium, where it must validate, render and
// redact exactly as the package does in Node. Needs `npm run build` first.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as settings from '../../src/settings/index.js';

const root = resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const withBrowser = existsSync(CHROMIUM) || process.env.CI !== undefined;

let bundle: string;
let browser: Browser | undefined;

beforeAll(async () => {
  const result = await build({
    entryPoints: [join(root, 'dist', 'settings.js')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'MessengerEmailSettings',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  bundle = result.outputFiles[0]?.text ?? '';
  const bytes = Buffer.byteLength(bundle);
  console.info(
    `messenger-email/settings for the browser: ${(bytes / 1024).toFixed(1)} kB minified, ${(gzipSync(bundle).length / 1024).toFixed(1)} kB gzipped`,
  );
  if (withBrowser) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
  }
});

afterAll(async () => {
  await browser?.close();
});

const INPUTS: unknown[] = [
  { defaultSenderAddress: 'messenger@district.k12.us', smtpHost: 'smtp.district.k12.us' },
  {
    defaultSenderAddress: 'messenger@infinitecampus.com',
    smtpHost: 'smtp://x',
    smtpPort: 70000,
    useTls: true,
  },
  {
    defaultSenderAddress: 'messenger@district.k12.us',
    smtpHost: '2001:db8::1',
    useAuthentication: true,
    authMethod: 'oauth2',
    username: 'messenger@district.k12.us',
    oauthProvider: 'microsoft365',
    oauthTenantId: 'district.onmicrosoft.com',
    oauthClientId: '11111111-2222-3333-4444-555555555555',
    oauthClientSecret: 'Qx8~secret',
  },
  { defaultSenderAddress: 'a@b.org', smtpHost: 'h', useAuthentication: true, authMethod: 'oauth2' },
  'not an object',
];

/** What the entry answers for every input: parse results, the redacted settings, the form fields. */
function answers(api: typeof settings, inputs: unknown[]) {
  return {
    parsed: inputs.map((input) => {
      const result = api.safeParseEmailSettings(input);
      return result.success
        ? {
            ok: true,
            json: JSON.parse(JSON.stringify(result.data)),
            redacted: api.redactSettings(result.data),
          }
        : { ok: false, issues: result.error.issues, isError: result.error instanceof api.EmailSettingsError };
    }),
    fields: api.EMAIL_SETTINGS_FIELDS.map((field) => [
      field.name,
      field.label,
      field.input,
      field.enabledWhen ?? null,
    ]),
    form: api.parseEmailSettingsForm(
      new URLSearchParams({
        defaultSenderAddress: 'messenger@district.k12.us',
        smtpHost: 'relay',
        smtpTimeoutSeconds: '60',
      }),
    ),
  };
}

describe('messenger-email/settings in a browser', () => {
  it('bundles for the browser with no Node built-in', () => {
    expect(bundle.length).toBeGreaterThan(10_000);
    expect(bundle).not.toMatch(/require\(["']node:/);
  });

  it.skipIf(!withBrowser)('validates, renders and redacts in Chromium exactly as in Node', async () => {
    const page = await (browser as Browser).newPage();
    await page.route(
      () => true,
      (route) => route.abort(),
    ); // nothing is fetched
    await page.setContent('<!doctype html><title>settings</title>');
    await page.addScriptTag({ content: bundle });
    const inBrowser = await page.evaluate(
      `(${answers.toString()})(window.MessengerEmailSettings, ${JSON.stringify(INPUTS)})`,
    );
    expect(inBrowser).toEqual(JSON.parse(JSON.stringify(answers(settings, INPUTS))));
    const summary = inBrowser as ReturnType<typeof answers>;
    expect(summary.parsed.map((p) => p.ok)).toEqual([true, false, true, false, false]);
    await page.close();
  });
});
