/** Shared set-up of the sender-domain tests: a DNS server on a zone for the file, and finding look-ups. */
import { afterAll, beforeAll, expect } from 'vitest';
import { type DnsResolver, type DomainFinding, systemResolver } from '../../src/domain/index.js';
import { startDnsServer, type TestDnsServer, type Zone } from './dns-server.js';

/** The server of {@link serveZone} and a resolver that asks it (1 s a query, one try), once the tests start. */
export interface ServedZone {
  server: TestDnsServer;
  resolver: DnsResolver;
}

/** Serves `zone` from a test DNS server started before the file's tests (then `setup` runs) and closed after. */
export function serveZone(zone: Zone, setup?: (server: TestDnsServer) => void): ServedZone {
  const served = {} as ServedZone;
  beforeAll(async () => {
    served.server = await startDnsServer(zone);
    setup?.(served.server);
    served.resolver = systemResolver({ servers: [served.server.address], timeoutMs: 1000, tries: 1 });
  });
  afterAll(async () => {
    await served.server.close();
  });
  return served;
}

/** The one finding of `kind` in `findings`; fails the test when there is not exactly one. */
export function only(findings: DomainFinding[], kind: DomainFinding['check']): DomainFinding {
  const found = findings.filter((entry) => entry.check === kind);
  expect(found).toHaveLength(1);
  return found[0] as DomainFinding;
}
