/**
 * Which provider an installation uses (ENRICHMENT_PROVIDER, default auto): a paid key wins, then
 * the keyless web provider when public names resolve (asked of a real DNS server on loopback),
 * else the sandbox, said loudly with the reason.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { resolveProvider, resolvesPublicNames } from '../src/providers/provider-stack';
import { type LocalDnsServer, startLocalDnsServer, zone } from './local-dns-server';

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  return { logger, lines };
}

describe('choosing the provider', () => {
  let answering: LocalDnsServer;
  let silent: LocalDnsServer;
  beforeAll(async () => {
    answering = await startLocalDnsServer(zone({ 'example.com': { A: ['93.184.215.14'] } }));
    silent = await startLocalDnsServer(() => 'TIMEOUT');
  });
  afterAll(async () => {
    await answering?.close();
    await silent?.close();
  });

  it('asks the configured DNS servers whether public names resolve, within 2 s', async () => {
    expect(await resolvesPublicNames({ DNS_SERVERS: [answering.server] })).toBe(true);
    expect(answering.questions).toContain('A example.com');
    const started = performance.now();
    expect(await resolvesPublicNames({ DNS_SERVERS: [silent.server] })).toBe(false);
    expect(performance.now() - started).toBeLessThan(4_000);
  });

  it('without keys uses the web provider when public names resolve', async () => {
    const { logger, lines } = capture();
    const config = loadConfig({ NODE_ENV: 'test', DNS_SERVERS: answering.server });
    const chosen = await resolveProvider(config, logger);
    expect(chosen.name).toBe('web');
    expect(lines.some((l) => /keyless WEB provider/.test(l.msg))).toBe(true);
  });

  it('without keys or DNS falls back to the sandbox and says why', async () => {
    const { logger, lines } = capture();
    const config = loadConfig({ NODE_ENV: 'test', DNS_SERVERS: silent.server });
    const chosen = await resolveProvider(config, logger);
    try {
      expect(chosen.name).toBe('sandbox');
      expect(await (await fetch(`${chosen.baseUrl}/_sandbox/stats`)).json()).toBeTruthy();
      const warning = lines.find((l) => l.level === 40)?.msg ?? '';
      expect(warning).toMatch(/cannot resolve public names/);
      expect(warning).toMatch(/SYNTHETIC/);
    } finally {
      await chosen.stop();
    }
  });

  it('prefers a paid key: Explorium, then People Data Labs', async () => {
    const never = async () => {
      throw new Error('a paid key needs no DNS probe');
    };
    const both = loadConfig({ NODE_ENV: 'test', EXPLORIUM_API_KEY: 'e-key', PDL_API_KEY: 'p-key' });
    expect((await resolveProvider(both, pino({ level: 'silent' }), never)).name).toBe('explorium');
    const pdl = loadConfig({ NODE_ENV: 'test', PDL_API_KEY: 'p-key' });
    const chosen = await resolveProvider(pdl, pino({ level: 'silent' }), never);
    expect(chosen).toMatchObject({ name: 'pdl', apiKey: 'p-key', baseUrl: 'https://api.peopledatalabs.com' });
  });

  it('takes an explicit choice, and refuses one whose key is missing', async () => {
    const web = loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDER: 'web', PDL_API_KEY: 'p-key' });
    expect((await resolveProvider(web, pino({ level: 'silent' }))).name).toBe('web');
    const pdl = loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDER: 'pdl' });
    await expect(resolveProvider(pdl, pino({ level: 'silent' }))).rejects.toThrow(ConfigError);
    await expect(resolveProvider(pdl, pino({ level: 'silent' }))).rejects.toThrow(/PDL_API_KEY/);
    expect(() => loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDER: 'clearbit' })).toThrow(ConfigError);
  });
});
