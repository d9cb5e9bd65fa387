/** The MX findings of a sender domain: can bounces come back to it? */
import { type DomainFinding, type FindingSeverity, finding } from './findings.js';
import type { MxLookup } from './mx.js';

/** The MX finding of `domain`: where its mail goes, so whether bounces can come back. */
export function mxFindings(domain: string, found: MxLookup): DomainFinding[] {
  const make = (severity: FindingSeverity, message: string, extra?: { record?: string; fix?: string }) => [
    finding('mx', severity, domain, domain, message, extra),
  ];
  switch (found.status) {
    case 'mx': {
      const first = found.records[0]?.exchange ?? '';
      const more = found.records.length > 1 ? ` and ${found.records.length - 1} more` : '';
      const record = found.records.map((record) => `${record.priority} ${record.exchange}`).join(', ');
      return make('ok', `${domain} receives mail at ${first}${more}: bounces can come back`, { record });
    }
    case 'implicit':
      return make(
        'ok',
        `${domain} has no MX record; mail for it goes to its address ${found.addresses.join(', ')}: bounces can come back`,
      );
    case 'null':
      return make(
        'warning',
        `${domain} publishes a null MX (0 .): it accepts no mail, so bounces are lost and some receivers refuse its mail`,
        {
          record: '0 .',
          fix: `Publish an MX record for ${domain} pointing at a server that receives its mail, or send from a domain that receives mail`,
        },
      );
    case 'none':
      return make('warning', `${domain} has no MX record and no address: bounces will be lost`, {
        fix: `Publish an MX record for ${domain} pointing at the server that receives its mail`,
      });
    case 'nxdomain':
      return make(
        'problem',
        `${domain} does not exist in DNS: receivers reject mail from it and bounces are lost`,
        { fix: `Check the spelling of the sender address, or publish ${domain} in DNS` },
      );
    case 'error':
      return make('warning', `The MX records of ${domain} could not be looked up: ${found.reason}`, {
        fix: `Run the check again; if it keeps failing, check the DNS servers of ${domain}`,
      });
  }
}
