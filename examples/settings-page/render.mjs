// HTML for the Email Settings tab, rendered from EMAIL_SETTINGS_FIELDS in the groups of groups.mjs. Every value
// goes through escapeHtml.
import { EMAIL_SETTINGS_DEFAULTS, EMAIL_SETTINGS_FIELDS, SECRET_SETTINGS_FIELDS } from 'messenger-email';
import { fieldGroups } from './groups.mjs';
import { PAGE_SCRIPT } from './page-script.mjs';
import { PAGE_STYLE } from './page-style.mjs';

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
    'aria-describedby': `${state.errors.length > 0 ? `error-${field.name} ` : ''}help-${field.name}`,
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

const FIELDS_BY_NAME = new Map(EMAIL_SETTINGS_FIELDS.map((field) => [field.name, field]));

/** Whether a field of the group, or of a group inside it, has an error. */
function groupHasError(group, ctx) {
  return (
    group.fields.some((name) => ctx.errors.has(name)) ||
    (group.groups ?? []).some((inner) => groupHasError(inner, ctx))
  );
}

/**
 * One group: a `<fieldset>` with its legend, or a `<details>` for a collapsible one (open when it holds an error).
 * A group shown with a field (OAuth 2.0) is hidden while that field is disabled, and hides the fields that do not
 * apply to the chosen provider.
 */
function renderGroup(group, ctx, view) {
  const fields = group.fields
    .map((name) => FIELDS_BY_NAME.get(name))
    .filter((field) => field !== undefined)
    .map((field) => renderField(field, ctx, view));
  const inner = (group.groups ?? []).map((nested) => renderGroup(nested, ctx, view));
  const body = [...fields, ...inner].join('\n');
  const title = `<span class="group-title">${escapeHtml(group.legend)}</span>`;
  if (group.collapsible) {
    const open = groupHasError(group, ctx);
    return `<details${attributes({ class: `group group-${group.id}`, id: `group-${group.id}`, open })}>
<summary>${title}</summary>
${body}
</details>`;
  }
  const shownWith = group.shownWith === undefined ? undefined : FIELDS_BY_NAME.get(group.shownWith);
  const classes = ['group', `group-${group.id}`, shownWith ? 'hide-disabled' : ''].join(' ').trim();
  return `<fieldset${attributes({
    class: classes,
    id: `group-${group.id}`,
    hidden: shownWith !== undefined && !shownWith.enabled(view),
    'data-shown-with': shownWith?.name,
  })}>
<legend>${title}</legend>
${body}
</fieldset>`;
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
  return `<div id="save-result" class="banner error-summary" role="alert" tabindex="-1" data-focus-on-load><h2>The settings were not saved: ${count} to correct</h2><ul>${items}</ul></div>`;
}

function renderNotice(notice) {
  if (!notice) return '';
  return `<div id="save-result" class="banner notice" role="status" tabindex="-1" data-focus-on-load>${escapeHtml(notice)}</div>`;
}

function renderSettingsForm(ctx) {
  const view = typedView(ctx.values);
  const groups = fieldGroups()
    .map((group) => renderGroup(group, ctx, view))
    .join('\n');
  return `<form method="post" action="/settings#save-result" novalidate class="settings"${attributes({ 'data-defaults': JSON.stringify(EMAIL_SETTINGS_DEFAULTS) })}>
${groups}
<div class="actions"><button type="submit">Save</button><span class="legend"><span class="required">*</span> required</span></div>
</form>`;
}

/** A fact's value: a literal (a host name, an address, the server's answer) as code, anything else as text. */
function factValue({ value, literal }) {
  const values = Array.isArray(value) ? value : [value];
  return values.map((one) => (literal ? `<code>${escapeHtml(one)}</code>` : escapeHtml(one))).join(', ');
}

function renderFacts(facts = []) {
  if (facts.length === 0) return '';
  const rows = facts.map((fact) => `<dt>${escapeHtml(fact.term)}</dt><dd>${factValue(fact)}</dd>`);
  return `<dl class="facts">${rows.join('')}</dl>`;
}

const SEVERITY_WORDS = { problem: 'Problem', warning: 'Warning', ok: 'OK' };
const CHECK_NAMES = {
  mx: 'Bounces',
  spf: 'SPF',
  dmarc: 'DMARC',
  dkim: 'DKIM',
  dns: 'DNS',
  relay: 'SMTP Host',
};

/**
 * The sender-domain findings (verify({ domain })): will receiving servers take mail from the Default Sender's
 * domain? For each, how serious it is, what was found, the record as found (a literal) and how to fix it.
 */
export function renderFindings(findings = [], timedOut = false) {
  if (findings.length === 0) return '';
  const items = findings.map((finding) => {
    const severity = Object.hasOwn(SEVERITY_WORDS, finding.severity) ? finding.severity : 'warning';
    const name = CHECK_NAMES[finding.check] ?? 'Domain';
    const record =
      finding.record && severity !== 'ok'
        ? `<p class="record">Found: <code>${escapeHtml(finding.record)}</code></p>`
        : '';
    const fix = finding.fix ? `<p class="fix"><strong>Fix:</strong> ${escapeHtml(finding.fix)}</p>` : '';
    return `<li class="finding finding-${severity}" data-severity="${severity}"><strong class="severity">${SEVERITY_WORDS[severity]}</strong> · ${escapeHtml(name)}: ${escapeHtml(finding.message)}${record}${fix}</li>`;
  });
  const late = timedOut
    ? '<p>The DNS check ran out of time; what it could not check is listed as DNS.</p>'
    : '';
  return `<section class="domain-findings" aria-label="Will messages reach the inbox?"><h4>Will messages reach the inbox?</h4>${late}<ul class="findings">${items.join('')}</ul></section>`;
}

/** The library's technical text, folded away: for IT or the email provider. */
function renderDetails(details) {
  if (!details) return '';
  return `<details class="technical"><summary>Technical details</summary><p>${escapeHtml(details)}</p></details>`;
}

/**
 * The result of Send test email (see test-result.mjs): its title, what happened, what to do, the facts, the
 * findings and the technical details. Focused when the page opens, so it is seen and read out.
 */
export function renderTestResult(result) {
  if (result === undefined) return '';
  const status = ['ok', 'failed', 'info'].includes(result.status) ? result.status : 'failed';
  const parts = [
    `<h3>${escapeHtml(result.title)}</h3>`,
    result.message ? `<p class="result-message">${escapeHtml(result.message)}</p>` : '',
    result.hint ? `<p class="result-hint"><strong>What to do:</strong> ${escapeHtml(result.hint)}</p>` : '',
    renderFacts(result.facts),
    renderFindings(result.findings, result.findingsTimedOut),
    renderDetails(result.details),
  ];
  return `<div${attributes({
    id: 'test-result',
    class: `banner result result-${status}`,
    role: status === 'failed' ? 'alert' : 'status',
    tabindex: '-1',
    'data-status': status,
    'data-focus-on-load': true,
  })}>${parts.join('')}</div>`;
}

function renderTestForm(ctx) {
  return `<section class="test" id="send-test" aria-labelledby="send-test-title">
<h2 id="send-test-title">Send test email</h2>
<p class="help" id="test-help">Uses the saved settings: checks that they reach the SMTP server and log in, then sends a short message to the address you enter.</p>
<form method="post" action="/test#test-result" class="test-form" novalidate>
  <label for="test-to">Send to</label>
  <input id="test-to" name="to" type="email" class="control" autocomplete="email" aria-describedby="test-help" placeholder="you@district.k12.us"${attributes({ value: ctx.testTo })}>
  <button type="submit">Send test email</button>
</form>
${renderTestResult(ctx.testResult)}
</section>`;
}

/**
 * The whole page.
 * @param ctx - values (field name to string), errors (Map field to messages), issues, notice, secretPlaceholders,
 *   testTo, testResult, configured, policy, nonce
 */
export function renderPage(ctx) {
  const status = ctx.configured
    ? '<span class="status status-configured">Configured</span>'
    : '<span class="status status-not-configured">Not Configured</span>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Email Settings</title>
<style nonce="${ctx.nonce}">${PAGE_STYLE}</style>
</head>
<body>
<main>
<p class="path">System Administration &gt; Messenger &gt; Messenger Preferences &gt; Email Settings</p>
<h1>Email Settings ${status}</h1>
${renderNotice(ctx.notice)}${renderSummary(ctx.issues)}
${renderSettingsForm(ctx)}
${renderTestForm(ctx)}
</main>
<script nonce="${ctx.nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
