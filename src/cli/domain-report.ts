/**
 * How `messenger-email check` prints the sender-domain findings: one line each under its sender domain, the
 * severity first, the fix indented below it.
 */
import type { DomainFinding, FindingSeverity, SenderDomainReport } from '../index.js';
import { printable } from './terminal.js';

const LABEL: Record<FindingSeverity, string> = { ok: 'ok', warning: 'WARNING', problem: 'PROBLEM' };

const CHECK_NAME: Record<DomainFinding['check'], string> = {
  mx: 'MX',
  spf: 'SPF',
  dmarc: 'DMARC',
  dkim: 'DKIM',
  dns: 'DNS',
  relay: 'Relay',
};

/** The width of the severity column: the longest label and a space. */
const COLUMN = 9;

/**
 * The lines of the findings, grouped by sender domain in the order found. Pure.
 *
 * @param report - what the sender-domain check found
 */
export function renderDomainReport(report: SenderDomainReport): string[] {
  const lines: string[] = [];
  let domain: string | undefined;
  for (const finding of report.findings) {
    if (finding.domain !== domain) {
      domain = finding.domain;
      lines.push(domain === '' ? 'Sender domain:' : `Sender domain ${printable(domain)}:`);
    }
    const label = LABEL[finding.severity].padEnd(COLUMN);
    lines.push(`  ${label}${CHECK_NAME[finding.check]}: ${printable(finding.message)}`);
    if (finding.record !== undefined && finding.severity !== 'ok')
      lines.push(`  ${' '.repeat(COLUMN)}Found: ${printable(finding.record)}`);
    if (finding.fix !== undefined) lines.push(`  ${' '.repeat(COLUMN)}Fix: ${printable(finding.fix)}`);
  }
  if (report.timedOut) lines.push('  (the DNS check ran out of time: the checks left are marked DNS)');
  return lines;
}
