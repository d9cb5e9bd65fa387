// The Email Settings page: a node:http server that keeps the settings in memory and applies them to a Mailer.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import {
  EMAIL_SETTINGS_DEFAULTS,
  EMAIL_SETTINGS_FIELDS,
  EmailSettingsError,
  Mailer,
  parseEmailSettingsForm,
  SECRET_SETTINGS_FIELDS,
} from 'messenger-email';
import { formValues, renderPage, typedView } from './render.mjs';
import {
  attemptFailed,
  checkFailed,
  noAddress,
  notConfigured,
  notSent,
  sent,
  withDomainFindings,
} from './test-result.mjs';

/** What the form shows before anything is saved: the library's defaults, aimed at a local sink on port 2525. */
const PAGE_DEFAULTS = { ...EMAIL_SETTINGS_DEFAULTS, smtpHost: '127.0.0.1', smtpPort: 2525 };
const MAX_BODY_BYTES = 64 * 1024;
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** An error with the HTTP status to answer with. */
function httpError(status, message) {
  return Object.assign(new Error(message), { status });
}

async function readForm(req) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== FORM_TYPE) throw httpError(415, `Expected ${FORM_TYPE}`);
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw httpError(413, 'The form is too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function securityHeaders(nonce) {
  return {
    'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

function plain(res, status, text, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${text}\n`);
}

/** For each secret field: 'unchanged' when one is saved (left blank, it is kept), or 'enter it again'. */
function secretPlaceholders(saved, typed = new Set()) {
  const placeholders = {};
  for (const name of SECRET_SETTINGS_FIELDS) {
    if (typed.has(name)) placeholders[name] = 'enter it again';
    else if (saved?.[name] !== undefined) placeholders[name] = 'unchanged';
  }
  return placeholders;
}

/** What every render starts from: the saved settings (or the defaults), never a secret. */
function baseContext(state) {
  return {
    values: formValues(state.settings ?? PAGE_DEFAULTS),
    errors: new Map(),
    issues: [],
    secretPlaceholders: secretPlaceholders(state.settings),
    testTo: state.testTo,
    configured: state.mailer.configured,
    policy: state.policy,
  };
}

function sendPage(res, status, state, overrides = {}) {
  const nonce = randomBytes(16).toString('base64');
  const html = renderPage({ ...baseContext(state), ...overrides, nonce });
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...securityHeaders(nonce) });
  res.end(html);
}

/**
 * A secret left blank keeps the saved one (the password, the client secret, the private key), so the page never
 * has to send a secret to the browser. A field the form did not post (disabled: another method or provider) is
 * left out, as the settings drop it anyway.
 */
function keepSavedSecrets(form, saved) {
  for (const name of SECRET_SETTINGS_FIELDS) {
    if ((form.get(name) ?? '') !== '' || saved?.[name] === undefined) continue;
    form.set(name, saved[name]);
  }
}

/**
 * A field the browser did not post because it is disabled keeps its saved value: the attachment limit, while
 * attachments are off, comes back when they are turned on again. The parser drops the login fields that no longer
 * apply, whatever they hold.
 */
function keepDisabledFields(form, saved) {
  if (saved === undefined) return;
  const view = typedView(postedValues(form));
  for (const field of EMAIL_SETTINGS_FIELDS) {
    if (form.has(field.name) || field.input === 'checkbox' || SECRET_SETTINGS_FIELDS.includes(field.name))
      continue;
    if (saved[field.name] !== undefined && !field.enabled(view))
      form.set(field.name, String(saved[field.name]));
  }
}

/** The secrets typed into this post: after an error they must be typed again, as they are not sent back. */
function typedSecrets(form) {
  return new Set(SECRET_SETTINGS_FIELDS.filter((name) => (form.get(name) ?? '') !== ''));
}

/** The posted strings, to show again after an error (no secret is ever among them). */
function postedValues(form) {
  const values = {};
  for (const field of EMAIL_SETTINGS_FIELDS) {
    if (!SECRET_SETTINGS_FIELDS.includes(field.name))
      values[field.name] = form.getAll(field.name).at(-1) ?? '';
  }
  return values;
}

function errorsByField(issues) {
  const errors = new Map();
  for (const issue of issues) {
    if (issue.field) errors.set(issue.field, [...(errors.get(issue.field) ?? []), issue.message]);
  }
  return errors;
}

function invalidContext(form, error, typed, saved) {
  return {
    values: postedValues(form),
    errors: errorsByField(error.issues),
    issues: error.issues,
    secretPlaceholders: secretPlaceholders(saved, typed),
  };
}

async function saveSettings(req, res, state) {
  const form = await readForm(req);
  const typed = typedSecrets(form);
  keepSavedSecrets(form, state.settings);
  keepDisabledFields(form, state.settings);
  let settings;
  try {
    settings = parseEmailSettingsForm(form, state.policy);
  } catch (error) {
    if (!(error instanceof EmailSettingsError)) throw error;
    return sendPage(res, 422, state, invalidContext(form, error, typed, state.settings));
  }
  state.settings = state.mailer.configure(settings);
  return sendPage(res, 200, state, { notice: 'Settings saved. Send a test email below to check them.' });
}

function testMessage(to) {
  return {
    to,
    subject: 'Test email from Messenger Email Settings',
    text: `This test email was sent from the Email Settings page at ${new Date().toISOString()}.\nIf you can read it, the settings work.\n`,
  };
}

/** Sends the test message; settles with its report, its error, or its first failed attempt (retries take minutes). */
function deliverTest(state, to) {
  const { mailer } = state;
  state.tests += 1;
  const id = `settings-page-test-${state.tests}`;
  let onFailed;
  const firstFailure = new Promise((resolve) => {
    onFailed = (event) => event.id === id && resolve({ failure: event });
    mailer.on('failed', onFailed);
  });
  const outcome = mailer.send(testMessage(to), { id }).then(
    (report) => ({ report }),
    (error) => ({ error }),
  );
  return Promise.race([outcome, firstFailure]).finally(() => mailer.off('failed', onFailed));
}

async function runTest(state, to) {
  if (!state.mailer.configured || state.settings === undefined) return notConfigured();
  if (to === '') return noAddress();
  const check = await state.mailer.verify(state.domainCheck === false ? {} : { domain: state.domainCheck });
  if (!check.ok) return withDomainFindings(checkFailed(check, state.settings), check.domain);
  const { report, error, failure } = await deliverTest(state, to);
  const outcome = report
    ? sent(report, check, to)
    : failure
      ? attemptFailed(failure, state.settings)
      : notSent(error, to);
  return withDomainFindings(outcome, check.domain);
}

async function sendTest(req, res, state) {
  const form = await readForm(req);
  state.testTo = (form.get('to') ?? '').trim();
  const testResult = await runTest(state, state.testTo);
  return sendPage(res, 200, state, { testResult });
}

const ROUTES = {
  'GET /': (_req, res, state) => sendPage(res, 200, state),
  'POST /settings': saveSettings,
  'POST /test': sendTest,
  'GET /settings': (_req, res) => plain(res, 303, 'See /', { location: '/' }),
  'GET /test': (_req, res) => plain(res, 303, 'See /', { location: '/' }),
};

async function handle(req, res, state) {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  const route = ROUTES[`${req.method} ${pathname}`];
  if (route) return route(req, res, state);
  const known = Object.keys(ROUTES).some((key) => key.endsWith(` ${pathname}`));
  return known ? plain(res, 405, 'Method not allowed') : plain(res, 404, 'Not found');
}

function fail(res, error) {
  if (res.headersSent) return res.destroy();
  if (error.status) return plain(res, error.status, error.message);
  process.stderr.write(`settings page: ${error.stack ?? error}\n`); // never a request body: no password
  return plain(res, 500, 'Internal error');
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlOf(server) {
  const { address, port } = server.address();
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

async function close(server, mailer) {
  const closed = new Promise((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await Promise.all([closed, mailer.close()]);
}

/**
 * Starts the Email Settings page.
 * @param {{ port?: number, host?: string, policy?: object, domainCheck?: object | false }} options - port (0 picks
 *   a free one; default 3000), address (default 127.0.0.1), the host policy given to the parser and the Mailer, and
 *   the options of the sender-domain check run with Send test email (default: the system's DNS; false: none)
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export async function startSettingsPage({
  port = 3000,
  host = '127.0.0.1',
  policy = {},
  domainCheck = {},
} = {}) {
  const mailer = new Mailer({ policy });
  const state = { mailer, policy, domainCheck, settings: undefined, testTo: '', tests: 0 };
  const server = createServer((req, res) => {
    handle(req, res, state).catch((error) => fail(res, error));
  });
  await listen(server, port, host);
  return { url: urlOf(server), close: () => close(server, state.mailer) };
}
