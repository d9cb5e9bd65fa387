// HTML for the Email Settings tab, rendered from EMAIL_SETTINGS_FIELDS. Every value goes through escapeHtml.
import { EMAIL_SETTINGS_DEFAULTS, EMAIL_SETTINGS_FIELDS, SECRET_SETTINGS_FIELDS } from 'messenger-email';

/** Fields whose value is never sent to the browser: the password, the client secret, the private key. */
const SECRETS = new Set(SECRET_SETTINGS_FIELDS);

const TRUE_WORDS = new Set(['on', 'true', 'yes', '1']);

/** Text made safe for HTML content and for quoted attribute values. */
export function escapeHtml(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** ` name="value"` pairs; `true` gives a bare attribute, `false`, `undefined` and `null` leave it out. */
function attributes(pairs) {
  let out = '';
  for (const [name, value] of Object.entries(pairs)) {
    if (value === undefined || value === null || value === false) continue;
    out += value === true ? ` ${name}` : ` ${name}="${escapeHtml(value)}"`;
  }
  return out;
}

/** Whether a field holds a number: a number input, or a select of numbers (SMTP Timeout). */
function isNumeric(field) {
  return (
    field.input === 'number' || (field.input === 'select' && typeof field.options?.[0]?.value === 'number')
  );
}

/** The form's strings (field name to string, checkboxes 'on' or absent) as settings, for required() and enabled(). */
export function typedView(values) {
  const view = {};
  for (const field of EMAIL_SETTINGS_FIELDS) {
    const raw = values[field.name];
    if (field.input === 'checkbox') view[field.name] = TRUE_WORDS.has(String(raw ?? '').toLowerCase());
    else if (raw === undefined || raw === '') continue;
    else view[field.name] = isNumeric(field) ? Number(raw) : raw;
  }
  return view;
}

/** Settings (or defaults) as the strings a form shows. No secret is ever among them. */
export function formValues(settings) {
  const values = {};
  for (const field of EMAIL_SETTINGS_FIELDS) {
    const value = settings[field.name];
    if (SECRETS.has(field.name) || value === undefined) continue;
    values[field.name] = field.input === 'checkbox' ? (value ? 'on' : '') : String(value);
  }
  return values;
}

/** A field's condition as the attribute the page script reads, or nothing when the field does not depend on one. */
function condition(value) {
  return value === undefined ? undefined : JSON.stringify(value);
}

function selectControl(field, value, common) {
  const options = field.options
    .map((option) => {
      const selected = String(option.value) === value;
      return `<option${attributes({ value: option.value, selected })}>${escapeHtml(option.label)}</option>`;
    })
    .join('');
  // a choice with no default (OAuth 2.0 Provider) starts blank, so that nothing is chosen for the administrator
  const blank = Object.hasOwn(EMAIL_SETTINGS_DEFAULTS, field.name)
    ? ''
    : `<option value=""${value === '' ? ' selected' : ''}>Choose…</option>`;
  return `<select${attributes(common)}>${blank}${options}</select>`;
}

/** What a secret field shows when it is empty: that the saved one is kept, or that it must be typed again. */
function secretPlaceholder(field, ctx) {
  return ctx.secretPlaceholders?.[field.name];
}

function inputControl(field, value, common, ctx) {
  const secret = SECRETS.has(field.name);
  return `<input${attributes({
    ...common,
    type: field.input,
    value: field.input === 'checkbox' ? 'on' : secret ? '' : value,
    checked: field.input === 'checkbox' && value === 'on',
    min: field.min,
    max: field.name === 'attachmentSizeLimitMb' ? (ctx.policy.maxAttachmentMb ?? field.max) : field.max,
    step: field.step,
    placeholder: secret ? secretPlaceholder(field, ctx) : field.placeholder,
    autocomplete: secret ? 'new-password' : field.name === 'username' ? 'username' : 'off',
  })}>`;
}

function textareaControl(field, value, common, ctx) {
  const secret = SECRETS.has(field.name);
  const placeholder = secret ? secretPlaceholder(field, ctx) : field.placeholder;
  return `<textarea${attributes({ ...common, rows: 4, spellcheck: 'false', autocomplete: 'off', placeholder })}>${secret ? '' : escapeHtml(value)}</textarea>`;
}

function control(field, ctx, state) {
  const value = ctx.values[field.name] ?? '';
  const common = {
    id: `field-${field.name}`,
    name: field.name,
    class: 'control',
    disabled: !state.enabled,
    required: state.required,
    'aria-invalid': state.errors.length > 0 ? 'true' : undefined,
    'aria-describedby': `help-${field.name}${state.errors.length > 0 ? ` error-${field.name}` : ''}`,
    'data-enabled-when': condition(field.enabledWhen),
    'data-required-when': condition(field.requiredWhen),
  };
  if (field.input === 'select') return selectControl(field, value, common);
  if (field.input === 'textarea') return textareaControl(field, value, common, ctx);
  return inputControl(field, value, common, ctx);
}

function fieldErrors(field, messages) {
  if (messages.length === 0) return '';
  const text = messages.map(escapeHtml).join('<br>');
  return `<p class="error" id="error-${escapeHtml(field.name)}" data-error-for="${escapeHtml(field.name)}">${text}</p>`;
}

function renderField(field, ctx, view) {
  const state = {
    required: field.required(view),
    enabled: field.enabled(view),
    errors: ctx.errors.get(field.name) ?? [],
  };
  const marker = `<span class="required"${attributes({ hidden: !state.required, 'data-required-when': condition(field.requiredWhen), 'aria-hidden': 'true' })}>*</span>`;
  const classes = ['field', `field-${field.input}`, state.errors.length > 0 ? 'has-error' : ''].join(' ');
  return `<div class="${escapeHtml(classes.trim())}">
  <div class="label"><label for="field-${escapeHtml(field.name)}">${escapeHtml(field.label)}</label>${marker}</div>
  <div class="input">
    ${control(field, ctx, state)}
    ${fieldErrors(field, state.errors)}
    <p class="help" id="help-${escapeHtml(field.name)}">${escapeHtml(field.description)}</p>
  </div>
</div>`;
}

function renderSummary(issues) {
  if (issues.length === 0) return '';
  const items = issues
    .map((issue) => {
      const text = escapeHtml(issue.message);
      return issue.field
        ? `<li><a href="#field-${escapeHtml(issue.field)}">${text}</a></li>`
        : `<li>${text}</li>`;
    })
    .join('');
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return `<div class="banner error-summary" role="alert"><h2>The settings were not saved: ${count} to correct</h2><ul>${items}</ul></div>`;
}

function renderSettingsForm(ctx) {
  const view = typedView(ctx.values);
  const fields = EMAIL_SETTINGS_FIELDS.map((field) => renderField(field, ctx, view)).join('\n');
  return `<form method="post" action="/settings" novalidate class="settings"${attributes({ 'data-defaults': JSON.stringify(EMAIL_SETTINGS_DEFAULTS) })}>
${fields}
<div class="actions"><button type="submit">Save</button><span class="legend"><span class="required">*</span> required</span></div>
</form>`;
}

function reportRows(rows) {
  return `<dl>${rows.map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>`;
}

function renderSent({ report, check }) {
  const tls = check.tls === 'none' ? 'no TLS' : `TLS (${check.tls})`;
  return `<h3>Test email sent</h3>${reportRows([
    ['Id', report.id],
    ['From', report.sender.address],
    ['Accepted', report.accepted.join(', ')],
    ['Response', report.response],
    ['Message-ID', report.messageId],
    ['Server', `${check.host}:${check.port}, ${tls}${check.authenticated ? ', logged in' : ''}`],
  ])}`;
}

function renderNotSent(result) {
  const rows = [
    ['Stage', result.stage],
    ['Problem', result.message],
  ];
  if (result.hint) rows.push(['What to do', result.hint]);
  if (result.retry) rows.push(['Retry', result.retry]);
  return `<h3>${escapeHtml(result.title)}</h3>${reportRows(rows)}`;
}

function renderTestResult(result) {
  if (result === undefined) return '';
  const body = result.ok ? renderSent(result) : renderNotSent(result);
  const status = result.ok ? 'ok' : 'failed';
  return `<div id="test-result" class="banner result-${status}" role="status" data-status="${status}">${body}</div>`;
}

function renderTestForm(ctx) {
  return `<section class="test">
<h2>Send test email</h2>
<p class="help">Checks the connection with the saved settings (connect, TLS, login), then sends a short message.</p>
<form method="post" action="/test" class="test-form" novalidate>
  <label for="test-to">Send to</label>
  <input id="test-to" name="to" type="email" class="control" autocomplete="email" placeholder="you@district.k12.us"${attributes({ value: ctx.testTo })}>
  <button type="submit">Send test email</button>
</form>
${renderTestResult(ctx.testResult)}
</section>`;
}

const STYLE = `
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #f3f4f6; }
main { max-width: 60rem; margin: 1.5rem auto; padding: 1.5rem 2rem; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
.path { margin: 0; color: #6b7280; font-size: 0.85em; }
h1 { margin: 0.2rem 0 1rem; font-size: 1.5rem; display: flex; align-items: center; gap: 0.75rem; }
h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
h3 { font-size: 1rem; margin: 0 0 0.5rem; }
.status { font-size: 0.75rem; font-weight: 600; padding: 0.15rem 0.5rem; border-radius: 999px; }
.status-configured { background: #dafbe1; color: #116329; }
.status-not-configured { background: #fff8c5; color: #7d4e00; }
.banner { padding: 0.75rem 1rem; border-radius: 6px; margin: 0 0 1rem; border: 1px solid; }
.banner ul { margin: 0.25rem 0 0; padding-left: 1.25rem; }
.banner a { color: inherit; }
.notice, .result-ok { background: #dafbe1; border-color: #4ac26b; color: #116329; }
.error-summary, .result-failed { background: #ffebe9; border-color: #ff8182; color: #a40e26; }
.field { display: grid; grid-template-columns: 17rem 1fr; gap: 0 1.25rem; padding: 0.65rem 0; border-top: 1px solid #eaeef2; }
.field > .label { font-weight: 600; padding-top: 0.35rem; }
.field-checkbox > .label { padding-top: 0; }
.field:has(.control:disabled) > .label { color: #8c959f; }
.required { color: #cf222e; margin-left: 0.2rem; }
.control { font: inherit; padding: 0.3rem 0.5rem; border: 1px solid #afb8c1; border-radius: 4px; width: 100%; max-width: 24rem; background: #fff; }
input[type="number"].control { max-width: 10rem; }
select.control { max-width: 24rem; }
textarea.control { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85em; resize: vertical; }
input[type="checkbox"].control { width: 1.1rem; height: 1.1rem; margin: 0.1rem 0; }
.control:disabled { background: #f6f8fa; color: #8c959f; border-color: #d0d7de; }
.has-error .control { border-color: #cf222e; outline: 1px solid #cf222e; }
.error { color: #cf222e; font-size: 0.9em; font-weight: 600; margin: 0.3rem 0 0; }
.help { color: #6b7280; font-size: 0.82em; margin: 0.3rem 0 0; max-width: 38rem; }
.actions { display: flex; align-items: center; gap: 1rem; padding-top: 1rem; border-top: 1px solid #eaeef2; }
.legend { color: #6b7280; font-size: 0.85em; }
button { font: inherit; font-weight: 600; padding: 0.4rem 1.1rem; border-radius: 4px; border: 1px solid #1f6feb; background: #1f6feb; color: #fff; cursor: pointer; }
.test { margin-top: 2rem; padding-top: 1rem; border-top: 2px solid #d0d7de; }
.test-form { display: flex; align-items: center; gap: 0.75rem; margin: 0.75rem 0 1rem; }
.test-form label { font-weight: 600; }
dl { display: grid; grid-template-columns: 8rem 1fr; gap: 0.2rem 1rem; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.9em; }
`;

// Follows the form live: each control and required marker carries the field descriptor's enabledWhen or
// requiredWhen (data-enabled-when, data-required-when), evaluated against what the form holds now, a blank field
// counting as its default. So Use Authentication unlocks Authentication Method, which shows the password or the
// OAuth 2.0 provider, whose choice unlocks that provider's fields; Use TLS makes SMTP Port required.
const SCRIPT = `
const form = document.querySelector('form.settings');
const defaults = JSON.parse(form.dataset.defaults);
const valueOf = (name) => {
  const el = form.elements.namedItem(name);
  if (el === null) return defaults[name];
  if (el.type === 'checkbox') return el.checked;
  return el.value === '' ? defaults[name] : el.value;
};
const meets = (when) =>
  Object.entries(JSON.parse(when)).every(([name, values]) => values.map(String).includes(String(valueOf(name))));
const sync = () => {
  for (const el of form.querySelectorAll('[data-enabled-when]')) el.disabled = !meets(el.dataset.enabledWhen);
  for (const el of form.querySelectorAll('[data-required-when]')) {
    const required = meets(el.dataset.requiredWhen);
    if (el.matches('input, select, textarea')) el.required = required;
    else el.hidden = !required;
  }
};
form.addEventListener('change', sync);
sync();
`;

/**
 * The whole page.
 * @param ctx - values (field name to string), errors (Map field to messages), issues, notice, secretPlaceholders,
 *   testTo, testResult, configured, policy, nonce
 */
export function renderPage(ctx) {
  const status = ctx.configured
    ? '<span class="status status-configured">Configured</span>'
    : '<span class="status status-not-configured">Not Configured</span>';
  const notice = ctx.notice ? `<div class="banner notice" role="status">${escapeHtml(ctx.notice)}</div>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Email Settings</title>
<style nonce="${ctx.nonce}">${STYLE}</style>
</head>
<body>
<main>
<p class="path">System Administration &gt; Messenger &gt; Messenger Preferences &gt; Email Settings</p>
<h1>Email Settings ${status}</h1>
${notice}${renderSummary(ctx.issues)}
${renderSettingsForm(ctx)}
${renderTestForm(ctx)}
</main>
<script nonce="${ctx.nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
