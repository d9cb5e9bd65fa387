// The page's script, run in the browser.
//
// It follows the form live: each control and required marker carries the field descriptor's enabledWhen or
// requiredWhen (data-enabled-when, data-required-when), evaluated against what the form holds now, a blank field
// counting as its default. So Use Authentication unlocks Authentication Method, which shows the password or the
// OAuth 2.0 group, whose provider unlocks that provider's fields; Use TLS makes SMTP Port required; Allow Email
// Attachments unlocks the attachment limit. A group shown with a field (data-shown-with) is hidden while that
// field is disabled.
//
// When the page answers a post, it moves the focus to the answer (data-focus-on-load: what Save said, or the
// result of Send test email) and brings it into view, so that it is seen and read out.

export const PAGE_SCRIPT = `
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
  for (const group of form.querySelectorAll('[data-shown-with]')) {
    group.hidden = form.elements.namedItem(group.dataset.shownWith).disabled;
  }
};
form.addEventListener('change', sync);
sync();

const answer = document.querySelector('[data-focus-on-load]');
if (answer !== null) {
  answer.focus({ preventScroll: true });
  answer.scrollIntoView({ block: 'nearest' });
}
`;
