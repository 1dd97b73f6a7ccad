/**
 * Which providers an installation asks (ENRICHMENT_PROVIDERS, default auto): the paid ones with a
 * key first, then the keyless web provider when public names resolve (asked of a real DNS server
 * on loopback); without either, the sandbox, said loudly with the reason.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { resolveProviders, resolvesPublicNames } from '../src/providers/provider-stack';
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
    const chosen = await resolveProviders(config, logger);
    expect(chosen.waterfall).toEqual(['web']);
    expect(chosen.available.map((e) => e.name)).toEqual(['web']);
    expect(lines.some((l) => /keyless WEB provider/.test(l.msg))).toBe(true);
  });

  it('without keys or DNS falls back to the sandbox and says why', async () => {
    const { logger, lines } = capture();
    const config = loadConfig({ NODE_ENV: 'test', DNS_SERVERS: silent.server });
    const chosen = await resolveProviders(config, logger);
    try {
      expect(chosen.waterfall).toEqual(['sandbox']);
      const sandbox = chosen.available[0]!;
      expect(await (await fetch(`${sandbox.baseUrl}/_sandbox/stats`)).json()).toBeTruthy();
      const warning = lines.find((l) => l.level === 40)?.msg ?? '';
      expect(warning).toMatch(/cannot resolve public names/);
      expect(warning).toMatch(/SYNTHETIC/);
    } finally {
      await chosen.stop();
    }
  });

  it('with keys, the paid providers come first and the web provider adds its signals', async () => {
    const silentLog = pino({ level: 'silent' });
    const resolves = async () => true;
    const explorium = loadConfig({ NODE_ENV: 'test', EXPLORIUM_API_KEY: 'e-key' });
    expect((await resolveProviders(explorium, silentLog, resolves)).waterfall).toEqual(['explorium', 'web']);
    const both = loadConfig({ NODE_ENV: 'test', EXPLORIUM_API_KEY: 'e-key', PDL_API_KEY: 'p-key' });
    const chosen = await resolveProviders(both, silentLog, resolves);
    expect(chosen.waterfall).toEqual(['explorium', 'pdl', 'web']);
    expect(chosen.available.find((e) => e.name === 'pdl')).toMatchObject({
      apiKey: 'p-key',
      baseUrl: 'https://api.peopledatalabs.com',
    });
    // Without DNS the web provider is left out, and nothing falls back to the sandbox.
    const { logger, lines } = capture();
    const offline = await resolveProviders(both, logger, async () => false);
    expect(offline.waterfall).toEqual(['explorium', 'pdl']);
    expect(lines.find((l) => l.level === 40)?.msg).toMatch(/web provider is left out/);
  });

  it('takes an explicit waterfall, keeps keyed providers available, and refuses one whose key is missing', async () => {
    const never = async () => {
      throw new Error('an explicit list needs no DNS probe');
    };
    const silentLog = pino({ level: 'silent' });
    const web = loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDERS: 'web', PDL_API_KEY: 'p-key' });
    const chosen = await resolveProviders(web, silentLog, never);
    expect(chosen.waterfall).toEqual(['web']);
    // PDL has a key: an upload may still name it.
    expect(chosen.available.map((e) => e.name).sort()).toEqual(['pdl', 'web']);
    const pdl = loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDERS: 'pdl,web' });
    await expect(resolveProviders(pdl, silentLog, never)).rejects.toThrow(ConfigError);
    await expect(resolveProviders(pdl, silentLog, never)).rejects.toThrow(/PDL_API_KEY/);
    expect(() => loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDERS: 'clearbit' })).toThrow(
      /unknown provider "clearbit"/,
    );
    expect(() => loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDERS: 'web,web' })).toThrow(/once/);
    // The name before waterfalls is refused with the new one, never silently ignored.
    expect(() => loadConfig({ NODE_ENV: 'test', ENRICHMENT_PROVIDER: 'pdl' })).toThrow(
      /ENRICHMENT_PROVIDERS/,
    );
  });
});
