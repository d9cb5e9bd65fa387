import { Resolver } from 'node:dns/promises';

/** One MX record: the host that receives the domain's mail, and its preference (lower is tried first). */
export interface MxRecord {
  /** The mail server's host name; an empty string for a null MX (`0 .`). */
  exchange: string;
  /** The preference: the lowest is tried first. */
  priority: number;
}

/**
 * The DNS queries the sender-domain check makes. Each method resolves with the records, or rejects with an error
 * whose `code` is one of Node's `dns` codes: `ENOTFOUND` (the name does not exist, NXDOMAIN), `ENODATA` (the name
 * exists but has no record of that type), `ETIMEOUT`, `ESERVFAIL`, `ECONNREFUSED`, `ECANCELLED` and the like.
 * {@link systemResolver} is one; a test or an application can pass its own.
 */
export interface DnsResolver {
  /** The TXT records of `name`, each as the list of its character-strings. */
  txt(name: string): Promise<string[][]>;
  /** The MX records of `name`. */
  mx(name: string): Promise<MxRecord[]>;
  /** The IPv4 addresses of `name`. */
  a(name: string): Promise<string[]>;
  /** The IPv6 addresses of `name`. */
  aaaa(name: string): Promise<string[]>;
  /** Stops the queries still under way (they reject with `ECANCELLED`). Optional. */
  cancel?(): void;
}

/** Options of {@link systemResolver}. */
export interface SystemResolverOptions {
  /**
   * DNS servers to ask, as `Resolver.setServers` takes them: `'192.0.2.53'`, `'127.0.0.1:5353'`,
   * `'[2001:db8::53]:53'`. Omitted: the system's servers.
   */
  servers?: string[];
  /** How long to wait for one answer, in milliseconds. Omitted: Node's default (5 seconds). */
  timeoutMs?: number;
  /** How many times to send a query before giving up. Omitted: Node's default (4). */
  tries?: number;
}

/** A {@link DnsResolver} on Node's own resolver (`node:dns/promises`), which asks the given servers directly. */
export function systemResolver(options: SystemResolverOptions = {}): DnsResolver {
  const resolver = new Resolver({
    ...(options.timeoutMs !== undefined ? { timeout: Math.max(1, Math.round(options.timeoutMs)) } : {}),
    ...(options.tries !== undefined ? { tries: Math.max(1, Math.round(options.tries)) } : {}),
  });
  if (options.servers && options.servers.length > 0) resolver.setServers(options.servers);
  return {
    txt: (name) => resolver.resolveTxt(name),
    // only the two fields of MxRecord: Node 24 adds `type`, which the check does not read
    mx: async (name) =>
      (await resolver.resolveMx(name)).map(({ exchange, priority }) => ({ exchange, priority })),
    a: (name) => resolver.resolve4(name),
    aaaa: (name) => resolver.resolve6(name),
    cancel: () => resolver.cancel(),
  };
}

/**
 * What a failed DNS query means for the check: `'void'` when the name or the record does not exist (`ENOTFOUND`,
 * `ENODATA`), which SPF counts as a void lookup and every check reads as "none"; `'temporary'` for everything else
 * (a timeout, a server failure, a refused connection, a malformed answer), which may go away on its own.
 */
export type DnsOutcome = 'void' | 'temporary';

/** Classifies a rejection of a {@link DnsResolver} method: see {@link DnsOutcome}. */
export function dnsOutcome(error: unknown): DnsOutcome {
  const code = errorCode(error);
  return code === 'ENOTFOUND' || code === 'ENODATA' ? 'void' : 'temporary';
}

/** The `code` of a DNS error, or `'EUNKNOWN'` when it has none. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return 'EUNKNOWN';
}

/** An error with a DNS code, as the resolver's own errors carry. */
export function dnsError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** What each DNS code means, in words for a message. */
export function describeDnsError(error: unknown): string {
  const code = errorCode(error);
  switch (code) {
    case 'ENOTFOUND':
      return 'the name does not exist (NXDOMAIN)';
    case 'ENODATA':
      return 'no such record';
    case 'ETIMEOUT':
      return 'the DNS server did not answer in time';
    case 'ESERVFAIL':
      return 'the DNS server answered SERVFAIL';
    case 'ECONNREFUSED':
      return 'the DNS server refused the connection';
    case 'EREFUSED':
      return 'the DNS server refused the query';
    case 'ECANCELLED':
      return 'the query was cancelled';
    case 'EBADRESP':
      return 'the answer could not be read';
    default:
      return `the DNS query failed (${code})`;
  }
}

const GARBAGE = 'EBADRESP';

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((entry) => typeof entry === 'string');
}

/**
 * Wraps a resolver so that nothing it does can throw into the check: a synchronous throw becomes a rejection, an
 * answer of the wrong shape becomes an `EBADRESP` rejection, and every query rejects with `ECANCELLED` once
 * `signal` aborts.
 */
export function guardResolver(resolver: DnsResolver, signal?: AbortSignal): DnsResolver {
  function call<T>(query: () => Promise<unknown>, check: (value: unknown) => T | undefined, name: string) {
    if (signal?.aborted) return Promise.reject(dnsError('ECANCELLED', `query for ${name} cancelled`));
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(query());
    } catch (error) {
      pending = Promise.reject(error);
    }
    const answer = pending.then(
      (value) => {
        const checked = check(value);
        if (checked === undefined) throw dnsError(GARBAGE, `unreadable answer for ${name}`);
        return checked;
      },
      (error: unknown) => {
        throw typeof error === 'object' && error !== null && 'code' in error
          ? error
          : dnsError(errorCode(error), `query for ${name} failed`);
      },
    );
    if (!signal) return answer;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(dnsError('ECANCELLED', `query for ${name} cancelled`));
      signal.addEventListener('abort', onAbort, { once: true });
      answer.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }
  const method = (key: 'txt' | 'mx' | 'a' | 'aaaa') => (name: string) => () =>
    (resolver[key] as (name: string) => Promise<unknown>).call(resolver, name);
  return {
    txt: (name) =>
      call(
        method('txt')(name),
        (value) =>
          Array.isArray(value) && value.every((record) => isStringArray(record) || typeof record === 'string')
            ? value.map((record: string[] | string) => (typeof record === 'string' ? [record] : record))
            : undefined,
        name,
      ),
    mx: (name) =>
      call(
        method('mx')(name),
        (value) =>
          Array.isArray(value) &&
          value.every(
            (record) =>
              typeof record === 'object' &&
              record !== null &&
              typeof record.exchange === 'string' &&
              typeof record.priority === 'number',
          )
            ? value.map((record: MxRecord) => ({ exchange: record.exchange, priority: record.priority }))
            : undefined,
        name,
      ),
    a: (name) => call(method('a')(name), (value) => (isStringArray(value) ? value : undefined), name),
    aaaa: (name) => call(method('aaaa')(name), (value) => (isStringArray(value) ? value : undefined), name),
  };
}

/**
 * Wraps a resolver so that each question (type and name, case-insensitive) is sent once per check: the SPF
 * evaluations of one domain (for each relay address, and the walk for syntax and limits) share their answers.
 */
export function memoResolver(resolver: DnsResolver): DnsResolver {
  const answers = new Map<string, Promise<unknown>>();
  const memo =
    <T>(key: 'txt' | 'mx' | 'a' | 'aaaa', ask: (name: string) => Promise<T>) =>
    (name: string): Promise<T> => {
      const question = `${key} ${name.toLowerCase()}`;
      let answer = answers.get(question) as Promise<T> | undefined;
      if (answer === undefined) {
        answer = ask.call(resolver, name);
        answers.set(question, answer);
      }
      return answer;
    };
  return {
    txt: memo('txt', resolver.txt),
    mx: memo('mx', resolver.mx),
    a: memo('a', resolver.a),
    aaaa: memo('aaaa', resolver.aaaa),
  };
}
