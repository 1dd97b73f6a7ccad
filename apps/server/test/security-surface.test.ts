/**
 * What the API shows around its routes: readiness answers codes, refused requests are audited
 * (throttled), audit entries carry the client's address as TRUST_PROXY lets the server see it and
 * ids that say nothing about other organizations, an organization keeps at least one admin key,
 * and the page's headers behind nginx are the API's own.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { AuditLogList } from '@gtm-enrich/contracts';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { healthRoutes } from '../src/http/routes/health';
import { createReadiness } from '../src/observability/readiness';
import { nginxAddHeaders, pageSecurityHeaders } from '../src/web-security-headers';
import { bearer, startTestSystem, type TestSystem } from './test-system';

const REPO = path.resolve(import.meta.dirname, '../../..');

async function auditLog(t: TestSystem, key: string): Promise<AuditLogList['data']> {
  const res = await fetch(`${t.baseUrl}/api/v1/audit-log?limit=500`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return ((await res.json()) as AuditLogList).data;
}

describe('/readyz', () => {
  it('answers a failed check with a code; the reason goes to the log only', async () => {
    const lines: string[] = [];
    const app = Fastify({
      logger: {
        level: 'warn',
        stream: new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      },
    });
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    const readiness = createReadiness(
      {
        database: async () => {
          throw new Error('connect ECONNREFUSED 10.20.30.40:5432');
        },
        queue: async () => {},
      },
      { timeoutMs: 2_000, onFailure: (check, err) => app.log.warn({ check, err }, 'readiness check failed') },
    );
    await app.register(healthRoutes, { readiness });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      status: 'not_ready',
      checks: { database: { ok: false, error: 'unavailable' }, queue: { ok: true } },
    });
    expect(res.body).not.toContain('10.20.30.40');
    expect(lines.join('')).toContain('ECONNREFUSED 10.20.30.40:5432');
    await app.close();
  });
});

describe('TRUST_PROXY', () => {
  it('takes hops or addresses and ranges, and refuses anything else by name', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8,172.18.0.3' }).TRUST_PROXY).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
      '172.18.0.3',
    ]);
    for (const bad of ['10.0.0.0/33', 'nginx', '10.0.0.1/8/2', 'true']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(ConfigError);
    }
  });
});

describe.each([
  { trust: 'loopback', seesForwarded: true },
  { trust: '', seesForwarded: false },
])('client addresses with TRUST_PROXY="$trust"', ({ trust, seesForwarded }) => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({
      env: { TRUST_PROXY: trust, API_RATE_LIMIT_PER_MIN: '3' },
      roles: { api: true, worker: false },
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('counts anonymous requests per client, as the trusted proxy names it', async () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await fetch(`${t.baseUrl}/api/v1/me`, { headers: from('203.0.113.7') })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Another client behind the same proxy: its own budget only when the proxy is trusted.
    const other = await fetch(`${t.baseUrl}/api/v1/me`, { headers: from('198.51.100.9') });
    expect(other.status).toBe(seesForwarded ? 401 : 429);
  });

  it('writes the client address into the audit log', async () => {
    const key = await t.keyFor('addresses', 'admin');
    const created = await fetch(`${t.baseUrl}/api/v1/keys`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.44' },
      body: JSON.stringify({ role: 'viewer' }),
    });
    expect(created.status).toBe(201);
    const entries = await auditLog(t, key);
    const entry = entries.find((e) => e.action === 'key.create' && e.actor !== 'cli');
    expect(entry?.client_ip).toBe(seesForwarded ? '192.0.2.44' : '127.0.0.1');
  });
});

describe('refused requests, audit ids and the last admin key', () => {
  let t: TestSystem;
  const logLines: string[] = [];
  beforeAll(async () => {
    t = await startTestSystem({
      roles: { api: true, worker: false },
      logDestination: new Writable({
        write(chunk, _enc, done) {
          logLines.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('audits 403s and revoked keys in their organization, once a minute per key, with the count of the rest', async () => {
    const admin = await t.keyFor('denied', 'admin');
    const viewer = await t.keyFor('denied', 'viewer');
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${t.baseUrl}/api/v1/keys`, { headers: bearer(viewer) })).status).toBe(403);
    }
    const revoked = await t.system.auth.createKey({ orgId: 'denied', role: 'member', actor: 'cli' });
    await t.system.auth.revokeKey(revoked.apiKey.prefix, { actor: 'cli' });
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(revoked.key) })).status).toBe(401);
    }
    const viewerPrefix = (await t.system.auth.listKeys('denied')).find((k) => k.role === 'viewer')!.prefix;
    await expect
      .poll(async () => (await auditLog(t, admin)).filter((e) => e.action === 'auth.denied').length)
      .toBe(2);
    const denied = (await auditLog(t, admin)).filter((e) => e.action === 'auth.denied');
    expect(denied).toContainEqual(
      expect.objectContaining({
        actor: viewerPrefix,
        details: expect.objectContaining({ status: 403, reason: 'forbidden', route: '/api/v1/keys' }),
        client_ip: '127.0.0.1',
      }),
    );
    expect(denied).toContainEqual(
      expect.objectContaining({
        actor: revoked.apiKey.prefix,
        details: expect.objectContaining({ status: 401, reason: 'revoked' }),
      }),
    );
    // Another organization's log holds none of it.
    const other = await auditLog(t, t.key);
    expect(JSON.stringify(other)).not.toContain(viewerPrefix);
  });

  it('logs refusals without a known key per client address, throttled, and never the key', async () => {
    const unknown = `gtm_${'Z'.repeat(43)}`;
    for (let i = 0; i < 4; i++) {
      expect((await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(unknown) })).status).toBe(401);
    }
    await expect
      .poll(() => logLines.filter((l) => l.includes('request refused: no valid API key')).length)
      .toBeGreaterThan(0);
    const refused = logLines
      .filter((l) => l.includes('request refused: no valid API key'))
      .map((l) => JSON.parse(l) as { reason: string; client_ip: string });
    expect(refused.filter((l) => l.reason === 'unknown')).toHaveLength(1);
    expect(refused[0]).toMatchObject({ client_ip: '127.0.0.1' });
    expect(logLines.join('')).not.toContain(unknown);
  });

  it('gives audit entries random ids and pages through them with a cursor that holds no sequence', async () => {
    const admin = await t.keyFor('paging', 'admin');
    for (let i = 0; i < 5; i++) {
      await t.system.auth.createKey({ orgId: 'paging', role: 'viewer', actor: 'cli' });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await fetch(
        `${t.baseUrl}/api/v1/audit-log?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { headers: bearer(admin) },
      );
      const page = (await res.json()) as AuditLogList;
      seen.push(...page.data.map((e) => e.id));
      cursor = page.next_cursor;
      if (cursor) {
        const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
        expect(Object.keys(JSON.parse(decoded) as object).sort()).toEqual(['at', 'id']);
      }
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe((await auditLog(t, admin)).length);
    expect(seen.every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    // A cursor the API did not write is a 400, not a 500.
    const forged = Buffer.from(JSON.stringify({ at: '2026-99-99T00:00:00.000000Z', id: 'x' })).toString(
      'base64url',
    );
    const bad = await fetch(`${t.baseUrl}/api/v1/audit-log?cursor=${forged}`, { headers: bearer(admin) });
    expect(bad.status).toBe(400);
  });

  it('refuses to revoke the last admin key of an organization through the API (409); the CLI still can', async () => {
    const first = await t.keyFor('lastadmin', 'admin');
    const keys = await t.system.auth.listKeys('lastadmin');
    const firstPrefix = keys.find((k) => k.role === 'admin')!.prefix;
    const refused = await fetch(`${t.baseUrl}/api/v1/keys/${firstPrefix}/revoke`, {
      method: 'POST',
      headers: bearer(first),
    });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: 'CONFLICT' } });
    expect((await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(first) })).status).toBe(200);

    // With a second admin, either may go, but not both: two revocations at once leave one.
    const second = await t.system.auth.createKey({ orgId: 'lastadmin', role: 'admin', actor: 'cli' });
    const [a, b] = await Promise.all([
      fetch(`${t.baseUrl}/api/v1/keys/${firstPrefix}/revoke`, {
        method: 'POST',
        headers: bearer(second.key),
      }),
      fetch(`${t.baseUrl}/api/v1/keys/${second.apiKey.prefix}/revoke`, {
        method: 'POST',
        headers: bearer(first),
      }),
    ]);
    // The loser is refused as the last admin (409), or its own key is already gone (401).
    const statuses = [a.status, b.status];
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 200)[0]).toBeOneOf([401, 409]);
    const active = (await t.system.auth.listKeys('lastadmin')).filter(
      (k) => k.role === 'admin' && !k.revoked_at,
    );
    expect(active).toHaveLength(1);
    // The operator (CLI) is not held to it.
    const cli = await t.system.auth.revokeKey(active[0]!.prefix, { actor: 'cli' });
    expect(cli.revoked_at).not.toBeNull();
  });
});

describe('the page behind nginx', () => {
  let dir: string;
  let t: TestSystem;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gtm-web-'));
    await writeFile(
      path.join(dir, 'index.html'),
      '<!doctype html><html><head><script>self.__boot=1</script></head><body>page</body></html>',
    );
    t = await startTestSystem({ env: { WEB_DIR: dir }, roles: { api: true, worker: false } });
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gets exactly the security headers the API sends with the page, CSP with the inline script hashes included', async () => {
    const generated = await pageSecurityHeaders(dir);
    const res = await fetch(`${t.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(generated['content-security-policy']).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    for (const name of [
      'content-security-policy',
      'x-content-type-options',
      'x-frame-options',
      'referrer-policy',
    ]) {
      expect(generated[name], name).toBeDefined();
    }
    for (const [name, value] of Object.entries(generated)) expect(res.headers.get(name), name).toBe(value);
    const conf = nginxAddHeaders(generated);
    expect(conf).toContain(
      `add_header content-security-policy "${generated['content-security-policy']}" always;`,
    );
  });

  it('sends them from the page’s location only: proxied answers keep the API’s own', async () => {
    const conf = await readFile(path.join(REPO, 'deploy/nginx/web.conf'), 'utf8');
    const location = (prefix: string) => {
      const start = conf.indexOf(`location ${prefix}`);
      return conf.slice(start, conf.indexOf('}', start));
    };
    expect(location('/ {')).toContain('include /etc/nginx/security-headers.conf;');
    expect(location('/api/')).not.toContain('security-headers');
    expect(location('/api/')).toContain('X-Forwarded-For $remote_addr');
    const dockerfile = await readFile(path.join(REPO, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('web-security-headers.ts apps/web/out > /app/security-headers.conf');
    expect(dockerfile).toContain('/etc/nginx/security-headers.conf');
  });
});
