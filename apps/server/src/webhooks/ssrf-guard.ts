/**
 * The guard in front of every request to a URL a user gave (webhook endpoints): every address
 * the host resolves to is checked, and the connection goes to a checked address (the check runs
 * inside the socket's own lookup), so a DNS answer that changes between check and connect — DNS
 * rebinding — cannot slip a private address through. Refused: loopback, private, carrier-grade
 * NAT, link-local (where the clouds' metadata services live: 169.254.169.254, fd00:ec2::254),
 * multicast, reserved and documentation ranges, unless the installation allows a range
 * (OUTBOUND_ALLOWED_CIDRS, e.g. a receiver on the same private network, or tests on loopback).
 * The web provider (providers/web) goes through the same guard, with its own resolver (DNS_SERVERS).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const REFUSED_V4 = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
] as const;
const REFUSED_V6 = [
  ['::', 128, 'unspecified'],
  // IPv4-compatible addresses (deprecated): ::7f00:1 is 127.0.0.1 to some stacks.
  ['::', 96, 'IPv4-compatible'],
  ['::1', 128, 'loopback'],
  ['64:ff9b::', 96, 'NAT64'],
  ['100::', 64, 'discard'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'private (unique local, cloud metadata)'],
  ['fe80::', 10, 'link-local'],
  ['ff00::', 8, 'multicast'],
] as const;

export class RefusedAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly kind: string,
  ) {
    super(
      `${host} resolves to ${address} (${kind}), which outbound requests may not reach; ` +
        'an operator can allow the range with OUTBOUND_ALLOWED_CIDRS',
    );
    this.name = 'RefusedAddressError';
  }
}

/**
 * An IPv4 address written as IPv6 is the IPv4 address, in either spelling: ::ffff:127.0.0.1, or
 * ::ffff:7f00:1 as URLs normalize it (http://[::ffff:127.0.0.1]/ has the host [::ffff:7f00:1]).
 */
function unmapped(address: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (dotted) return dotted;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return address;
  const high = Number.parseInt(hex[1]!, 16);
  const low = Number.parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

export type SsrfGuard = {
  /** Why `address` is refused ('private', 'loopback'…), or null when it may be reached. */
  refusal(address: string): string | null;
  /** Resolves `host` and checks every address; throws RefusedAddressError or the DNS error. */
  check(host: string): Promise<void>;
  /** A socket `lookup` that resolves, checks every address and connects only to checked ones. */
  lookup: LookupFunction;
};

/** Every address a name resolves to (A and AAAA); rejects with the resolver's error (ENOTFOUND…). */
export type ResolveAll = (host: string) => Promise<LookupAddress[]>;

/**
 * `allowedCidrs`: ranges reachable even though refused above, e.g. ['127.0.0.1/32', '10.1.0.0/16'].
 * `resolve`: how names are resolved; default the system resolver (getaddrinfo).
 */
export function createSsrfGuard(
  allowedCidrs: readonly string[] = [],
  opts: { resolve?: ResolveAll } = {},
): SsrfGuard {
  const refused = new Map<string, BlockList>();
  for (const [net, prefix, kind] of REFUSED_V4) {
    const list = refused.get(kind) ?? new BlockList();
    list.addSubnet(net, prefix, 'ipv4');
    refused.set(kind, list);
  }
  for (const [net, prefix, kind] of REFUSED_V6) {
    const list = refused.get(kind) ?? new BlockList();
    list.addSubnet(net, prefix, 'ipv6');
    refused.set(kind, list);
  }
  const allowed = new BlockList();
  for (const cidr of allowedCidrs) {
    const [net, prefix] = cidr.split('/');
    const family = isIP(net ?? '') === 6 ? 'ipv6' : 'ipv4';
    allowed.addSubnet(net!, Number(prefix ?? (family === 'ipv6' ? 128 : 32)), family);
  }

  function refusal(given: string): string | null {
    const address = unmapped(given);
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(address) === 0) return 'not an IP address';
    if (allowed.check(address, family)) return null;
    for (const [kind, list] of refused) if (list.check(address, family)) return kind;
    return null;
  }

  const resolveAll =
    opts.resolve ??
    ((host: string): Promise<LookupAddress[]> =>
      new Promise((resolve, reject) =>
        dnsLookup(host, { all: true, verbatim: true }, (err, addresses) =>
          err ? reject(err) : resolve(addresses),
        ),
      ));

  async function checked(host: string): Promise<LookupAddress[]> {
    const bare = host.replace(/^\[|\]$/g, '');
    const addresses = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await resolveAll(bare);
    if (addresses.length === 0) {
      throw Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND', hostname: host });
    }
    // Every address, not the first: a host that also resolves privately is refused.
    for (const { address } of addresses) {
      const kind = refusal(address);
      if (kind) throw new RefusedAddressError(host, address, kind);
    }
    return addresses;
  }

  const lookup: LookupFunction = (hostname, options, callback) => {
    checked(hostname).then(
      (addresses) => {
        const family = typeof options === 'object' ? options.family : undefined;
        const usable = addresses.filter((a) => !family || family === 0 || a.family === family);
        if (typeof options === 'object' && options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        } else {
          const first = usable[0] ?? addresses[0]!;
          callback(null, first.address, first.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };

  return {
    refusal,
    async check(host) {
      await checked(host);
    },
    lookup,
  };
}
