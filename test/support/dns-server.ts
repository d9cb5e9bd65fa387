/**
 * A real DNS server for tests: UDP and TCP on 127.0.0.1 and one random port, answering from a zone object. The wire
 * format is `dns-packet`'s. Unknown names get NXDOMAIN; known names without the asked type get NODATA (NOERROR, no
 * answers). Faults can be injected per name, and every query is logged.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type Question } from 'dns-packet';

/** The records of one name. A TXT value is one record: a string, or the strings of a multi-string record. */
export interface ZoneRecords {
  TXT?: (string | string[])[];
  MX?: { exchange: string; priority: number }[];
  A?: string[];
  AAAA?: string[];
}

/** Names (case-insensitive, without the trailing dot) to their records. */
export type Zone = Record<string, ZoneRecords>;

/** One query as the server received it. */
export interface LoggedQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  /** Whether the query carried an EDNS OPT record. */
  edns: boolean;
}

export interface DnsServerOptions {
  /**
   * Largest UDP answer, whatever the query's EDNS buffer size says. Omitted: 512 bytes without EDNS, the
   * advertised size with it. Bigger answers go out with TC set and no records, so the client asks again over TCP.
   */
  maxUdpSize?: number;
}

export interface TestDnsServer {
  /** The port, the same for UDP and TCP. */
  readonly port: number;
  /** `127.0.0.1:<port>`, for `Resolver.setServers`. */
  readonly address: string;
  /** Every query so far, in arrival order. */
  readonly queries: LoggedQuery[];
  /** How many queries asked for `name` (and `type`, when given), over either transport. */
  count(name: string, type?: string): number;
  /** Answers queries for `name` (every type) `ms` milliseconds late. */
  delay(name: string, ms: number): void;
  /** Answers queries for `name` with SERVFAIL. */
  servfail(name: string): void;
  /** Never answers queries for `name`. */
  drop(name: string): void;
  /** Replaces (or adds) the records of `name`. */
  set(name: string, records: ZoneRecords): void;
  /** Forgets the logged queries. */
  clearLog(): void;
  close(): Promise<void>;
}

const NOERROR = 0;
const SERVFAIL = 2;
const NXDOMAIN = 3;

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Splits a TXT string into character-strings of at most 255 bytes, as the wire format requires. */
function chunks(text: string): Buffer[] {
  const bytes = Buffer.from(text);
  if (bytes.length === 0) return [bytes];
  const out: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += 255) out.push(bytes.subarray(start, start + 255));
  return out;
}

function answersFor(records: ZoneRecords, question: Question): Answer[] {
  const base = { name: question.name, ttl: 0, class: 'IN' as const };
  switch (question.type) {
    case 'TXT':
      return (records.TXT ?? []).map((value) => ({
        ...base,
        type: 'TXT' as const,
        data: (Array.isArray(value) ? value : [value]).flatMap(chunks),
      }));
    case 'MX':
      return (records.MX ?? []).map(({ exchange, priority }) => ({
        ...base,
        type: 'MX' as const,
        data: { exchange, preference: priority },
      }));
    case 'A':
      return (records.A ?? []).map((data) => ({ ...base, type: 'A' as const, data }));
    case 'AAAA':
      return (records.AAAA ?? []).map((data) => ({ ...base, type: 'AAAA' as const, data }));
    default:
      return [];
  }
}

/** Starts a server on 127.0.0.1 and a random free port (the same one for UDP and TCP). */
export async function startDnsServer(zone: Zone, options: DnsServerOptions = {}): Promise<TestDnsServer> {
  const records = new Map<string, ZoneRecords>();
  for (const [name, value] of Object.entries(zone)) records.set(normalize(name), value);
  const delays = new Map<string, number>();
  const servfails = new Set<string>();
  const drops = new Set<string>();
  const queries: LoggedQuery[] = [];
  const timers = new Set<NodeJS.Timeout>();

  /** The answer to `query`, or undefined to stay silent. */
  function respond(
    query: DecodedPacket,
    transport: 'udp' | 'tcp',
  ): { packet: Buffer; name: string } | undefined {
    const question = query.questions?.[0];
    if (!question) return undefined;
    const name = normalize(question.name);
    const opt = query.additionals?.find((record) => record.type === 'OPT');
    queries.push({ name, type: question.type, transport, edns: opt !== undefined });
    if (drops.has(name)) return undefined;
    let rcode = NOERROR;
    let answers: Answer[] = [];
    const known = records.get(name);
    if (servfails.has(name)) rcode = SERVFAIL;
    else if (!known) rcode = NXDOMAIN;
    else answers = answersFor(known, question);
    const reply: Packet = {
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (query.flags ?? 0) | rcode,
      questions: [question],
      answers,
    };
    let packet = dnsPacket.encode(reply);
    if (transport === 'udp') {
      const advertised = opt && 'udpPayloadSize' in opt ? Math.max(512, Number(opt.udpPayloadSize)) : 512;
      const limit = Math.min(advertised, options.maxUdpSize ?? Number.POSITIVE_INFINITY);
      if (packet.length > limit) {
        packet = dnsPacket.encode({
          ...reply,
          flags: (reply.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
          answers: [],
        });
      }
    }
    return { packet, name };
  }

  function later(name: string, send: () => void): void {
    const ms = delays.get(name);
    if (ms === undefined) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, ms);
    timers.add(timer);
  }

  function createUdp(): dgram.Socket {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (message, remote) => {
      let query: DecodedPacket;
      try {
        query = dnsPacket.decode(message);
      } catch {
        return;
      }
      const answer = respond(query, 'udp');
      if (!answer) return;
      later(answer.name, () => socket.send(answer.packet, remote.port, remote.address));
    });
    return socket;
  }

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 2) {
        const size = pending.readUInt16BE(0);
        if (pending.length < 2 + size) break;
        const frame = pending.subarray(0, 2 + size);
        pending = pending.subarray(2 + size);
        let query: DecodedPacket;
        try {
          query = dnsPacket.streamDecode(frame) as DecodedPacket;
        } catch {
          socket.destroy();
          return;
        }
        const answer = respond(query, 'tcp');
        if (!answer) continue;
        const framed = Buffer.alloc(2 + answer.packet.length);
        framed.writeUInt16BE(answer.packet.length, 0);
        answer.packet.copy(framed, 2);
        later(answer.name, () => {
          if (!socket.destroyed) socket.write(framed);
        });
      }
    });
  });

  const { port, udp } = await bindBoth(createUdp, tcp);
  return {
    port,
    address: `127.0.0.1:${port}`,
    queries,
    count(name, type) {
      const wanted = normalize(name);
      return queries.filter((query) => query.name === wanted && (type === undefined || query.type === type))
        .length;
    },
    delay(name, ms) {
      delays.set(normalize(name), ms);
    },
    servfail(name) {
      servfails.add(normalize(name));
    },
    drop(name) {
      drops.add(normalize(name));
    },
    set(name, value) {
      records.set(normalize(name), value);
    },
    clearLog() {
      queries.length = 0;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

/** Binds UDP to a random port on 127.0.0.1, then TCP to the same port; tries again when TCP finds it taken. */
async function bindBoth(
  createUdp: () => dgram.Socket,
  tcp: net.Server,
): Promise<{ port: number; udp: dgram.Socket }> {
  for (let attempt = 0; ; attempt++) {
    const udp = createUdp();
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => {
        udp.off('error', reject);
        resolve(udp.address().port);
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      const failed = () => resolve(false);
      tcp.once('error', failed);
      tcp.listen(port, '127.0.0.1', () => {
        tcp.off('error', failed);
        resolve(true);
      });
    });
    if (listening) return { port, udp };
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (attempt >= 20) throw new Error('no free port for both UDP and TCP on 127.0.0.1');
  }
}
