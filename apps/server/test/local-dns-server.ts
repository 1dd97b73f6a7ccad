/**
 * Tests and the benchmark only: an authoritative-looking DNS server on loopback, over UDP and TCP
 * on one port (dns-packet for the wire format), answering from a function, so that the web
 * provider's resolver (DNS_SERVERS=127.0.0.1:<port>) is exercised for real and no query leaves the
 * machine. Records every question it is asked.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer } from 'dns-packet';

export type DnsRecords = {
  A?: string[];
  AAAA?: string[];
  MX?: { exchange: string; priority: number }[];
  TXT?: string[];
};

/** What to answer: records (NOERROR, perhaps none), a name that does not exist, a server failure, or silence. */
export type DnsReply = DnsRecords | 'NXDOMAIN' | 'SERVFAIL' | 'TIMEOUT';

export type LocalDnsServer = {
  /** `127.0.0.1:<port>`, as DNS_SERVERS takes it. */
  server: string;
  /** Every question asked, in order: `A acme.test`, `MX acme.test`… */
  readonly questions: string[];
  close(): Promise<void>;
};

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

/** Answers from a fixed zone: a name absent from it does not exist. */
export function zone(
  records: Record<string, DnsRecords | 'SERVFAIL' | 'TIMEOUT'>,
): (name: string) => DnsReply {
  return (name) => records[name.toLowerCase()] ?? 'NXDOMAIN';
}

function reply(
  query: dnsPacket.DecodedPacket,
  answer: (name: string, type: string) => DnsReply,
): Buffer | null {
  const question = query.questions?.[0];
  if (!question) return null;
  const found = answer(question.name, question.type);
  if (found === 'TIMEOUT') return null;
  const base = {
    type: 'response' as const,
    id: query.id,
    questions: query.questions,
  };
  const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER;
  if (found === 'NXDOMAIN' || found === 'SERVFAIL') {
    return dnsPacket.encode({ ...base, flags: flags | RCODE[found] });
  }
  const name = question.name;
  const answers: Answer[] = [];
  if (question.type === 'A')
    for (const data of found.A ?? []) answers.push({ type: 'A', name, ttl: 60, data });
  if (question.type === 'AAAA')
    for (const data of found.AAAA ?? []) answers.push({ type: 'AAAA', name, ttl: 60, data });
  if (question.type === 'MX') {
    for (const mx of found.MX ?? []) {
      answers.push({ type: 'MX', name, ttl: 60, data: { preference: mx.priority, exchange: mx.exchange } });
    }
  }
  if (question.type === 'TXT') {
    // A TXT string holds at most 255 bytes: longer records are split, as real zones do.
    for (const txt of found.TXT ?? []) {
      answers.push({ type: 'TXT', name, ttl: 60, data: txt.match(/[\s\S]{1,255}/g) ?? [''] });
    }
  }
  return dnsPacket.encode({ ...base, flags, answers });
}

/**
 * Starts the server on 127.0.0.1 (UDP and TCP, same port). `answer` gets the lower-case name and
 * the record type asked; it may answer differently each time (DNS rebinding tests).
 */
export async function startLocalDnsServer(
  answer: (name: string, type: string) => DnsReply,
): Promise<LocalDnsServer> {
  const questions: string[] = [];
  const respond = (buf: Buffer): Buffer | null => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(buf);
    } catch {
      return null;
    }
    const q = query.questions?.[0];
    if (q) questions.push(`${q.type} ${q.name.toLowerCase()}`);
    return reply(query, (name, type) => answer(name.toLowerCase(), type));
  };

  const sockets = new Set<net.Socket>();
  const onTcp = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      // Each TCP message is preceded by its length in two bytes (RFC 1035 §4.2.2).
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const length = pending.readUInt16BE(0);
        const out = respond(pending.subarray(2, 2 + length));
        pending = pending.subarray(2 + length);
        if (out) {
          const framed = Buffer.alloc(2 + out.length);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          socket.write(framed);
        }
      }
    });
  };

  // UDP takes a free port; TCP must get the same one, which another process may hold: try again.
  let udp: dgram.Socket | null = null;
  let tcp: net.Server | null = null;
  let port = 0;
  for (let attempt = 0; attempt < 20 && !tcp; attempt++) {
    const u = dgram.createSocket('udp4');
    u.on('message', (msg, rinfo) => {
      const out = respond(msg);
      if (out) u.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => u.bind(0, '127.0.0.1', resolve));
    port = u.address().port;
    const t = net.createServer(onTcp);
    const listening = await new Promise<boolean>((resolve) => {
      t.once('error', () => resolve(false));
      t.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listening) {
      udp = u;
      tcp = t;
    } else {
      await new Promise<void>((resolve) => u.close(() => resolve()));
    }
  }
  if (!udp || !tcp) throw new Error('no port free for both UDP and TCP');
  const [udpSocket, tcpServer] = [udp, tcp];

  return {
    server: `127.0.0.1:${port}`,
    questions,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udpSocket.close(() => resolve())),
        new Promise<void>((resolve) => tcpServer.close(() => resolve())),
      ]);
    },
  };
}
