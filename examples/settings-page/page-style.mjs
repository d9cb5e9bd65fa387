// The page's CSS. Two columns (label, control) on a wide screen, one on a phone; nothing is wider than the screen.
// Text is in the normal font: only literal values (host names, addresses, the server's answer) are set as code.

const MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

export const PAGE_STYLE = `
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #f3f4f6; overflow-wrap: break-word; }
main { max-width: 60rem; margin: 1.5rem auto; padding: 1.5rem 2rem; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
.path { margin: 0; color: #6b7280; font-size: 0.85em; }
h1 { margin: 0.2rem 0 1rem; font-size: 1.5rem; display: flex; flex-wrap: wrap; align-items: center; gap: 0.25rem 0.75rem; }
h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
h3 { font-size: 1rem; margin: 0 0 0.35rem; }
code { font-family: ${MONO}; font-size: 0.9em; overflow-wrap: anywhere; }
.status { font-size: 0.75rem; font-weight: 600; padding: 0.15rem 0.5rem; border-radius: 999px; }
.status-configured { background: #dafbe1; color: #116329; }
.status-not-configured { background: #fff8c5; color: #7d4e00; }
.banner { padding: 0.75rem 1rem; border-radius: 6px; margin: 0 0 1rem; border: 1px solid; }
.banner:focus { outline: 3px solid #1f6feb; outline-offset: 2px; }
.result { scroll-margin-top: 6rem; }
.banner ul { margin: 0.25rem 0 0; padding-left: 1.25rem; }
.banner a { color: inherit; }
.banner p { margin: 0.35rem 0 0; }
.notice, .result-ok { background: #dafbe1; border-color: #4ac26b; color: #116329; }
.error-summary, .result-failed { background: #ffebe9; border-color: #ff8182; color: #a40e26; }
.result-info { background: #ddf4ff; border-color: #54aeff; color: #0a3069; }
.group { border: 1px solid #d0d7de; border-radius: 6px; margin: 0 0 1rem; padding: 0.25rem 1rem 0.5rem; min-width: 0; }
.group > legend { padding: 0 0.35rem; }
.group-title { font-weight: 700; font-size: 1.05rem; }
.group .group { margin: 0.5rem 0 0.25rem; }
details.group { padding-top: 0.5rem; }
details.group > summary { cursor: pointer; padding: 0.1rem 0 0.5rem; }
.hide-disabled .field:has(.control:disabled) { display: none; }
.field { display: grid; grid-template-columns: minmax(0, 16rem) minmax(0, 1fr); gap: 0.25rem 1.25rem; padding: 0.6rem 0; border-top: 1px solid #eaeef2; }
.group > legend + .field, .group > summary + .field { border-top: 0; }
.field > .label { font-weight: 600; padding-top: 0.35rem; }
.field-checkbox > .label { padding-top: 0; }
.field:has(.control:disabled) > .label { color: #8c959f; }
.input { min-width: 0; }
.required { color: #cf222e; margin-left: 0.2rem; }
.control { font: inherit; padding: 0.3rem 0.5rem; border: 1px solid #afb8c1; border-radius: 4px; width: 100%; max-width: 24rem; background: #fff; }
input[type="number"].control { max-width: 10rem; }
textarea.control { font-family: ${MONO}; font-size: 0.85em; resize: vertical; }
input[type="checkbox"].control { width: 1.1rem; height: 1.1rem; margin: 0.1rem 0; }
.control:disabled { background: #f6f8fa; color: #8c959f; border-color: #d0d7de; }
.has-error .control { border-color: #cf222e; outline: 1px solid #cf222e; }
.error { color: #cf222e; font-size: 0.9em; font-weight: 600; margin: 0.3rem 0 0; }
.help { color: #6b7280; font-size: 0.82em; margin: 0.3rem 0 0; max-width: 38rem; }
.actions { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; padding-top: 0.5rem; }
.legend { color: #6b7280; font-size: 0.85em; }
button { font: inherit; font-weight: 600; padding: 0.4rem 1.1rem; border-radius: 4px; border: 1px solid #1f6feb; background: #1f6feb; color: #fff; cursor: pointer; max-width: 100%; }
.test { margin-top: 1.5rem; padding-top: 1rem; border-top: 2px solid #d0d7de; }
.test-form { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 0.75rem; margin: 0.75rem 0 1rem; }
.test-form label { font-weight: 600; }
.test-form .control { flex: 1 1 14rem; min-width: 0; }
dl.facts { display: grid; grid-template-columns: minmax(0, 9rem) minmax(0, 1fr); gap: 0.2rem 1rem; margin: 0.6rem 0 0; }
dt { font-weight: 600; }
dd { margin: 0; min-width: 0; }
.findings { list-style: none; padding: 0; margin: 0.6rem 0 0; }
.finding { padding: 0.35rem 0 0.35rem 0.6rem; border-left: 3px solid #8c959f; margin-top: 0.35rem; color: #1f2328; }
.finding-problem { border-left-color: #cf222e; }
.finding-ok { border-left-color: #1a7f37; }
.finding .record { margin: 0.2rem 0 0; overflow-wrap: anywhere; }
.domain-findings h4 { margin: 0.9rem 0 0.2rem; font-size: 1rem; }
.finding-warning { border-left-color: #bf8700; }
.finding .fix { margin: 0.2rem 0 0; }
details.technical { margin-top: 0.6rem; }
details.technical > summary { cursor: pointer; font-weight: 600; }
@media (max-width: 44rem) {
  main { margin: 0; padding: 1rem 0.75rem; border: 0; border-radius: 0; }
  .group { padding: 0.25rem 0.75rem 0.5rem; }
  .field { grid-template-columns: minmax(0, 1fr); }
  .field > .label { padding-top: 0; }
  dl.facts { grid-template-columns: minmax(0, 1fr); }
  dd { margin-bottom: 0.3rem; }
}
`;
