import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createSsrfGuard, RefusedAddressError } from './ssrf-guard';

describe('the outbound SSRF guard', () => {
  const guard = createSsrfGuard();

  it('refuses private, loopback, link-local (metadata), multicast and reserved addresses, v4 and v6', () => {
    const refused = {
      '127.0.0.1': 'loopback',
      '10.2.3.4': 'private',
      '172.20.0.1': 'private',
      '192.168.1.1': 'private',
      '100.64.0.1': 'carrier-grade NAT',
      '169.254.169.254': 'link-local (cloud metadata)',
      '0.0.0.0': 'this network',
      '224.0.0.1': 'multicast',
      '255.255.255.255': 'reserved',
      '::1': 'loopback',
      '::': 'unspecified',
      '::ffff:127.0.0.1': 'loopback',
      '::ffff:169.254.169.254': 'link-local (cloud metadata)',
      '::ffff:7f00:1': 'loopback',
      '::ffff:a9fe:a9fe': 'link-local (cloud metadata)',
      '::7f00:1': 'IPv4-compatible',
      'fd00:ec2::254': 'private (unique local, cloud metadata)',
      'fe80::1': 'link-local',
      'ff02::1': 'multicast',
    };
    for (const [address, kind] of Object.entries(refused)) expect(guard.refusal(address), address).toBe(kind);
    for (const address of ['93.184.215.14', '1.1.1.1', '2606:4700:4700::1111', '172.32.0.1']) {
      expect(guard.refusal(address), address).toBeNull();
    }
  });

  it('lets an installation allow a range, and only that range', () => {
    const allowing = createSsrfGuard(['127.0.0.1/32', '10.1.0.0/16']);
    expect(allowing.refusal('127.0.0.1')).toBeNull();
    expect(allowing.refusal('::ffff:7f00:1')).toBeNull();
    expect(allowing.refusal('10.1.200.3')).toBeNull();
    expect(allowing.refusal('127.0.0.2')).toBe('loopback');
    expect(allowing.refusal('10.2.0.1')).toBe('private');
    expect(allowing.refusal('169.254.169.254')).toBe('link-local (cloud metadata)');
  });

  it('checks every address a name resolves to (localhost: loopback)', async () => {
    await expect(guard.check('localhost')).rejects.toBeInstanceOf(RefusedAddressError);
    await expect(guard.check('[::1]')).rejects.toThrow(/loopback/);
    // As a URL writes an IPv4-mapped literal.
    await expect(guard.check(new URL('http://[::ffff:127.0.0.1]/').hostname)).rejects.toThrow(/loopback/);
    await expect(guard.check('169.254.169.254')).rejects.toThrow(/OUTBOUND_ALLOWED_CIDRS/);
    await expect(guard.check('93.184.215.14')).resolves.toBeUndefined();
  });

  it('is the socket lookup of a request to a name: refused, or connected to a checked address', async () => {
    const server = http.createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const get = (lookup: typeof guard.lookup) =>
      new Promise<string>((resolve, reject) => {
        const req = http.get({ host: 'localhost', port, lookup, agent: false, family: 4 }, (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
      });
    try {
      await expect(get(guard.lookup)).rejects.toBeInstanceOf(RefusedAddressError);
      await expect(get(createSsrfGuard(['127.0.0.0/8', '::1/128']).lookup)).resolves.toBe('reached');
    } finally {
      server.close();
    }
  });
});
