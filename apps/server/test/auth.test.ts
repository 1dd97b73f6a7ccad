/**
 * Every route × every kind of caller: no key, a malformed header, an unknown key, a revoked key,
 * each role, and an admin of another organization. Asserts the status each gets and that no
 * body ever carries the other organization's data. The routes come from the OpenAPI document,
 * so a route added later is in the matrix by itself (its access comes from http/auth.ts).
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { ApiKeyList, AuditLogList, CreatedApiKey, Job, Me } from '@gtm-enrich/contracts';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { suppliedKeyPrefix } from '../src/auth/api-keys';
import { type Access, routeAccess } from '../src/http/auth';
import {
  bearer,
  csvFile,
  queueKinds,
  startTestSystem,
  TEST_ADMIN_KEY,
  type TestSystem,
  upload,
} from './test-system';

type Caller =
  | { kind: 'none' | 'malformed' | 'unknown' | 'revoked'; headers: Record<string, string> }
  | { kind: 'viewer' | 'member' | 'admin' | 'other-org'; headers: Record<string, string> };

const RANK = { viewer: 0, member: 1, admin: 2 } as const;

/** A valid body for routes that need more than `{}`, so that an allowed caller gets past validation. */
const MATRIX_BODIES: Record<string, object> = {
  'POST /api/v1/keys': { role: 'viewer', name: 'matrix' },
  'PATCH /api/v1/jobs/{jobId}': { max_credits: null },
  'POST /api/v1/webhooks': { url: 'http://127.0.0.1:9/matrix' },
};

/**
 * Who may call what, written out here independently of the server. A route not listed (added
 * later) is held to the default rule of http/auth.ts: reads need a viewer, anything else a member.
 */
const EXPECTED_ACCESS: Record<string, Access> = {
  'POST /api/v1/uploads': 'member',
  'GET /api/v1/jobs': 'viewer',
  'GET /api/v1/jobs/{jobId}': 'viewer',
  'GET /api/v1/jobs/{jobId}/companies': 'viewer',
  'GET /api/v1/jobs/{jobId}/rejected': 'viewer',
  'GET /api/v1/jobs/{jobId}/export.csv': 'member',
  'POST /api/v1/jobs/{jobId}/resume': 'member',
  'GET /api/v1/me': 'viewer',
  'GET /api/v1/keys': 'admin',
  'POST /api/v1/keys': 'admin',
  'POST /api/v1/keys/{prefix}/revoke': 'admin',
  'GET /api/v1/audit-log': 'admin',
  'GET /api/v1/webhooks': 'admin',
  'POST /api/v1/webhooks': 'admin',
  'GET /api/v1/webhooks/{webhookId}': 'admin',
  'DELETE /api/v1/webhooks/{webhookId}': 'admin',
  'GET /api/v1/webhooks/{webhookId}/deliveries': 'admin',
  'POST /api/v1/webhooks/{webhookId}/deliveries/{deliveryId}/resend': 'admin',
};

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBeLessThan(300);
  return JSON.parse(text) as T;
}

/** vi.waitFor rather than expect.poll: it also runs in beforeAll. */
async function waitForJob(t: TestSystem, id: string, key: string): Promise<Job> {
  return vi.waitFor(
    async () => {
      const res = await fetch(`${t.baseUrl}/api/v1/jobs/${id}`, { headers: bearer(key) });
      const job = (await res.json()) as Job;
      if (job.status !== 'completed') throw new Error(`job ${id} is ${job.status}`);
      return job;
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** The operator's key: opens the queue dashboard on the API port, and nothing else. */
const OPERATOR_KEY = 'operator-key-0123456789-abcdefghijklmnopqrstuv';
const basic = (password: string) => ({
  authorization: `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`,
});

describe.each(queueKinds())('every route × every caller on the %s queue', (queue) => {
  let t: TestSystem;
  const logLines: string[] = [];
  const keys = { viewer: '', member: '', admin: TEST_ADMIN_KEY, other: '', revoked: '' };
  let acmeJob: Job;
  let acmeSecondJob: Job;
  let globexJob: Job;
  // What must never reach the other organization.
  const ACME_DOMAIN = 'acme-private-lead.com';
  const ACME_FILE = 'acme-confidential.csv';
  const GLOBEX_DOMAIN = 'globex-private-lead.com';
  const GLOBEX_FILE = 'globex-confidential.csv';

  beforeAll(async () => {
    t = await startTestSystem({
      queue,
      // Loopback webhooks, so that the matrix can register one.
      env: { OPERATOR_API_KEY: OPERATOR_KEY, OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32' },
      logDestination: new Writable({
        write(chunk, _enc, done) {
          logLines.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
    keys.viewer = await t.keyFor('acme', 'viewer');
    keys.member = await t.keyFor('acme', 'member');
    keys.other = await t.keyFor('globex', 'admin');
    const revoked = await t.system.auth.createKey({ orgId: 'acme', role: 'admin', actor: 'cli' });
    await t.system.auth.revokeKey(revoked.apiKey.prefix, { actor: 'cli' });
    keys.revoked = revoked.key;

    acmeJob = await json<Job>(
      await upload(t.baseUrl, csvFile(['domain', ACME_DOMAIN, 'stripe.com'], ACME_FILE), {}, keys.member),
    );
    acmeSecondJob = await json<Job>(
      await upload(t.baseUrl, csvFile(['domain', 'notion.so'], ACME_FILE), {}, keys.admin),
    );
    globexJob = await json<Job>(
      await upload(t.baseUrl, csvFile(['domain', GLOBEX_DOMAIN], GLOBEX_FILE), {}, keys.other),
    );
    await waitForJob(t, acmeJob.id, keys.admin);
    await waitForJob(t, globexJob.id, keys.other);
  });
  afterAll(async () => {
    await t?.stop();
  });

  const callers = (): Caller[] => [
    { kind: 'none', headers: {} },
    { kind: 'malformed', headers: { authorization: 'Bearer' } },
    { kind: 'malformed', headers: { authorization: `Token ${keys.admin}` } },
    { kind: 'unknown', headers: bearer(`gtm_${'A'.repeat(43)}`) },
    { kind: 'revoked', headers: bearer(keys.revoked) },
    { kind: 'viewer', headers: bearer(keys.viewer) },
    { kind: 'member', headers: bearer(keys.member) },
    { kind: 'admin', headers: bearer(keys.admin) },
    { kind: 'other-org', headers: bearer(keys.other) },
  ];

  /** One request of `method path` (OpenAPI template) for a caller, with a body where the route needs one. */
  async function call(method: string, template: string, headers: Record<string, string>): Promise<Response> {
    // A key to revoke, made afresh so that each allowed revoke has one to revoke.
    const prefix = template.includes('{prefix}')
      ? (await t.system.auth.createKey({ orgId: 'acme', role: 'viewer', actor: 'cli' })).apiKey.prefix
      : '';
    // An endpoint of acme with a delivered event, made afresh so that each allowed delete has one.
    const webhook = template.includes('{webhookId}') ? await acmeWebhook() : { id: '', deliveryId: '' };
    const url = `${t.baseUrl}${template
      .replace('{jobId}', acmeJob.id)
      .replace('{prefix}', prefix)
      .replace('{webhookId}', webhook.id)
      .replace('{deliveryId}', webhook.deliveryId)}`;
    if (method === 'post' && template === '/api/v1/uploads') {
      const form = new FormData();
      form.append('file', csvFile(['domain', 'figma.com'], 'matrix.csv'));
      return fetch(url, { method: 'POST', body: form, headers });
    }
    if (method === 'get' || method === 'head') return fetch(url, { method: method.toUpperCase(), headers });
    const body = MATRIX_BODIES[`${method.toUpperCase()} ${template}`] ?? {};
    return fetch(url, {
      method: method.toUpperCase(),
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  async function acmeWebhook(): Promise<{ id: string; deliveryId: string }> {
    const { rows } = await t.system.database.db.execute<{ id: string; delivery_id: string }>(sql`
      with e as (insert into webhook_endpoints (org_id, url, events, secret, created_by)
                 values ('acme', 'http://127.0.0.1:9/matrix', '{job.completed}', 'whsec_matrix', 'matrix') returning id),
           ev as (insert into webhook_events (org_id, job_id, type) values ('acme', ${acmeJob.id}, 'job.completed') returning id)
      insert into webhook_deliveries (event_id, endpoint_id, org_id, status)
        select ev.id, e.id, 'acme', 'delivered' from e, ev
      returning endpoint_id as id, id as delivery_id`);
    return { id: rows[0]!.id, deliveryId: rows[0]!.delivery_id };
  }

  function expected(caller: Caller, access: Access, jobScoped: boolean): 'ok' | number {
    if (access === 'public') return 'ok';
    // No /api route is the operator's: it would need a caller of its own.
    if (access === 'operator') throw new Error('an /api route for operators');
    if (['none', 'malformed', 'unknown', 'revoked'].includes(caller.kind)) return 401;
    if (caller.kind === 'other-org') return jobScoped ? 404 : 'ok';
    return RANK[caller.kind as keyof typeof RANK] >= RANK[access] ? 'ok' : 403;
  }

  it('answers each caller of each /api route as its access says, and never with the other organization’s data', async () => {
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    // The matrix covers at least what exists today; routes added later join it by themselves.
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        'post /api/v1/uploads',
        'get /api/v1/jobs',
        'get /api/v1/jobs/{jobId}',
        'get /api/v1/jobs/{jobId}/companies',
        'get /api/v1/jobs/{jobId}/rejected',
        'get /api/v1/jobs/{jobId}/export.csv',
        'post /api/v1/jobs/{jobId}/resume',
        'get /api/v1/me',
        'get /api/v1/keys',
        'post /api/v1/keys',
        'post /api/v1/keys/{prefix}/revoke',
        'get /api/v1/audit-log',
      ]),
    );

    const failures: string[] = [];
    for (const { path, method, op } of routes) {
      const access =
        EXPECTED_ACCESS[`${method.toUpperCase()} ${path}`] ??
        routeAccess(method.toUpperCase(), path.replace(/\{(\w+)\}/g, ':$1'));
      // The document says the same as the server does.
      expect(op.security, `${method} ${path}`).toEqual(access === 'public' ? [] : [{ bearerAuth: [] }]);
      for (const caller of callers()) {
        const res = await call(method, path, caller.headers);
        const body = await res.text();
        // Another organization's job or key: as if it did not exist.
        const want = expected(
          caller,
          access,
          path.includes('{jobId}') || path.includes('{prefix}') || path.includes('{webhookId}'),
        );
        const cell = `${method.toUpperCase()} ${path} as ${caller.kind} (${caller.headers.authorization?.slice(0, 12) ?? 'no header'}): ${res.status} ${body.slice(0, 160)}`;
        const ok =
          want === 'ok'
            ? res.status < 400 || res.status === 409 // a resume of a job that is not paused
            : res.status === want;
        if (!ok) failures.push(`expected ${want}: ${cell}`);
        if (res.status === 401 && !/^Bearer realm=/.test(res.headers.get('www-authenticate') ?? '')) {
          failures.push(`401 without WWW-Authenticate: Bearer: ${cell}`);
        }
        const foreign =
          caller.kind === 'other-org'
            ? [acmeJob.id, acmeSecondJob.id, ACME_DOMAIN, ACME_FILE, 'stripe.com']
            : [globexJob.id, GLOBEX_DOMAIN, GLOBEX_FILE, 'globex'];
        for (const marker of foreign) if (body.includes(marker)) failures.push(`leaks ${marker}: ${cell}`);
        // A key is never echoed, not even the caller's own (a created key is the one exception).
        if (!(path === '/api/v1/keys' && method === 'post')) {
          for (const key of Object.values(keys))
            if (body.includes(key)) failures.push(`echoes a key: ${cell}`);
        }
        // Only errors from our handler: one shape, with a stable code.
        if (res.status >= 400) expect(JSON.parse(body), cell).toHaveProperty('error.code');
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('opens the queue dashboard to operators only: on the operations listener, and on the API port with the operator key', async () => {
    const dashboardPaths = ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/api/redis/stats'];
    const hasDashboard = queue === 'bullmq';
    const dashboardCallers: Array<{ kind: string; headers: Record<string, string> }> = [
      ...callers(),
      // Every organization key, also in the Basic form a browser sends.
      { kind: 'admin', headers: basic(keys.admin) },
      { kind: 'other-org', headers: basic(keys.other) },
      { kind: 'unknown', headers: basic(`gtm_${'C'.repeat(43)}`) },
      { kind: 'operator', headers: basic(OPERATOR_KEY) },
      { kind: 'operator', headers: bearer(OPERATOR_KEY) },
    ];
    const failures: string[] = [];
    for (const path of dashboardPaths) {
      for (const caller of dashboardCallers) {
        const res = await fetch(`${t.baseUrl}${path}`, { headers: caller.headers });
        const body = await res.text();
        const cell = `API port ${path} as ${caller.kind} (${caller.headers.authorization?.slice(0, 12) ?? 'no header'}): ${res.status} ${body.slice(0, 120)}`;
        const want = !hasDashboard
          ? 404
          : caller.kind === 'operator'
            ? 200
            : ['none', 'malformed', 'unknown', 'revoked'].includes(caller.kind)
              ? 401
              : 403;
        if (res.status !== want) failures.push(`expected ${want}: ${cell}`);
        if (want === 401 && !/^Basic realm=/.test(res.headers.get('www-authenticate') ?? '')) {
          failures.push(`401 without a Basic challenge: ${cell}`);
        }
        if (res.status >= 400 && caller.kind !== 'operator') {
          for (const marker of [acmeJob.id, globexJob.id, 'globex', 'redis_version', '"queues"'])
            if (body.includes(marker)) failures.push(`leaks ${marker}: ${cell}`);
        }
      }
      // The operations listener is private (never published): the network is its guard.
      const ops = await fetch(`${t.system.observability.metricsUrl}${path}`);
      const opsBody = await ops.text();
      if (ops.status !== (hasDashboard ? 200 : 404)) {
        failures.push(`operations listener ${path}: ${ops.status} ${opsBody.slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);
    if (hasDashboard) {
      const listed = await fetch(`${t.system.observability.metricsUrl}/admin/queues/api/queues`);
      expect(await listed.json()).toHaveProperty('queues');
    }
    // /metrics and /healthz are on the operations listener, never on the API port.
    expect((await fetch(`${t.system.observability.metricsUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${t.system.observability.metricsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/metrics`, { headers: bearer(keys.admin) })).status).toBe(404);
    // The operator key is no organization's key.
    expect((await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(OPERATOR_KEY) })).status).toBe(401);
  });

  it('keeps health, readiness, the docs and the OpenAPI document public', async () => {
    for (const path of ['/healthz', '/readyz', '/docs', '/openapi.json']) {
      expect((await fetch(`${t.baseUrl}${path}`)).status, path).toBe(200);
    }
  });

  it('accepts the key’s own org_id (older clients) and refuses another one with 403', async () => {
    const same = await fetch(`${t.baseUrl}/api/v1/jobs/${acmeJob.id}?org_id=acme`, {
      headers: bearer(keys.viewer),
    });
    expect(same.status).toBe(200);
    const other = await fetch(`${t.baseUrl}/api/v1/jobs/${globexJob.id}?org_id=globex`, {
      headers: bearer(keys.viewer),
    });
    expect(other.status).toBe(403);
    const otherBody = await other.text();
    expect(otherBody).not.toContain(GLOBEX_DOMAIN);
    expect(JSON.parse(otherBody)).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const listed = await fetch(`${t.baseUrl}/api/v1/jobs?org_id=globex`, { headers: bearer(keys.viewer) });
    expect(listed.status).toBe(403);
    const uploaded = await upload(
      t.baseUrl,
      csvFile(['domain', 'stripe.com']),
      { org_id: 'globex' },
      keys.member,
    );
    expect(uploaded.status).toBe(403);
    const own = await upload(t.baseUrl, csvFile(['domain', 'stripe.com']), { org_id: 'acme' }, keys.member);
    expect(own.status).toBe(202);
  });

  it('says who the key is: organization, role and prefix', async () => {
    const me = await json<Me>(await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(keys.viewer) }));
    expect(me).toEqual({
      org_id: 'acme',
      org_name: 'acme',
      role: 'viewer',
      key_prefix: keys.viewer.slice(0, 12),
    });
  });

  it('lets an admin create a key (shown once), list keys without secrets, and revoke one at once', async () => {
    const created = await fetch(`${t.baseUrl}/api/v1/keys`, {
      method: 'POST',
      headers: { ...bearer(keys.admin), 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'member', name: 'CI' }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const key = await json<CreatedApiKey>(created);
    expect(key.key).toMatch(/^gtm_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ org_id: 'acme', role: 'member', name: 'CI', prefix: key.key.slice(0, 12) });
    expect((await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(key.key) })).status).toBe(200);

    const list = await json<ApiKeyList>(
      await fetch(`${t.baseUrl}/api/v1/keys`, { headers: bearer(keys.admin) }),
    );
    expect(list.data.map((k) => k.prefix)).toContain(key.prefix);
    expect(list.data.every((k) => k.org_id === 'acme')).toBe(true);
    expect(JSON.stringify(list)).not.toContain(key.key);
    // Only the hash is stored: no column holds the key.
    const stored = await t.system.database.db.execute(
      sql`select * from api_keys where prefix = ${key.prefix}`,
    );
    expect(JSON.stringify(stored.rows)).not.toContain(key.key);
    expect(stored.rows[0]).toMatchObject({ key_hash: createHash('sha256').update(key.key).digest('hex') });

    // Another organization's key cannot be revoked through this organization: 404.
    const globexKeys = await t.system.auth.listKeys('globex');
    const foreign = await fetch(`${t.baseUrl}/api/v1/keys/${globexKeys[0]!.prefix}/revoke`, {
      method: 'POST',
      headers: bearer(keys.admin),
    });
    expect(foreign.status).toBe(404);

    const revoked = await fetch(`${t.baseUrl}/api/v1/keys/${key.prefix}/revoke`, {
      method: 'POST',
      headers: bearer(keys.admin),
    });
    expect((await json<{ revoked_at: string | null }>(revoked)).revoked_at).not.toBeNull();
    const after = await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(key.key) });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('records when a key was last used, at most once a minute', async () => {
    const { key, apiKey } = await t.system.auth.createKey({ orgId: 'acme', role: 'viewer', actor: 'cli' });
    expect(apiKey.last_used_at).toBeNull();
    await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(key) });
    let first: string | null = null;
    await expect
      .poll(async () => {
        first = (await t.system.auth.listKeys('acme')).find((k) => k.prefix === apiKey.prefix)!.last_used_at;
        return first;
      })
      .not.toBeNull();
    await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(key) });
    await new Promise((r) => setTimeout(r, 100));
    expect((await t.system.auth.listKeys('acme')).find((k) => k.prefix === apiKey.prefix)!.last_used_at).toBe(
      first,
    );
  });

  it('keeps an audit log of key changes, uploads, job actions and exports, for admins, page by page', async () => {
    const exported = await fetch(`${t.baseUrl}/api/v1/jobs/${acmeJob.id}/export.csv`, {
      headers: bearer(keys.member),
    });
    expect(exported.status).toBe(200);
    await exported.text();
    const all: AuditLogList['data'] = [];
    let cursor: string | null = null;
    do {
      const page: AuditLogList = await json<AuditLogList>(
        await fetch(`${t.baseUrl}/api/v1/audit-log?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
          headers: bearer(keys.admin),
        }),
      );
      expect(page.data.length).toBeLessThanOrEqual(2);
      all.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    // Newest first, no entry twice, every one of them: the pages add up to the whole log.
    const times = all.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const ids = all.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const whole = await json<AuditLogList>(
      await fetch(`${t.baseUrl}/api/v1/audit-log?limit=500`, { headers: bearer(keys.admin) }),
    );
    // (An entry written after the walk began, by an answer's onResponse hook, may come on top.)
    expect(whole.data.map((e) => e.id).filter((id) => ids.includes(id))).toEqual(ids);
    // Random ids: nothing to count other organizations' entries by.
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const memberPrefix = keys.member.slice(0, 12);
    expect(all).toContainEqual(
      expect.objectContaining({
        action: 'job.upload',
        actor: memberPrefix,
        target_type: 'job',
        target_id: acmeJob.id,
      }),
    );
    expect(all).toContainEqual(
      expect.objectContaining({ action: 'job.export', actor: memberPrefix, target_id: acmeJob.id }),
    );
    expect(all).toContainEqual(expect.objectContaining({ action: 'key.create', actor: 'bootstrap' }));
    expect(all).toContainEqual(expect.objectContaining({ action: 'key.revoke', actor: 'cli' }));
    expect(all).toContainEqual(
      expect.objectContaining({ action: 'key.create', actor: suppliedKeyPrefix(TEST_ADMIN_KEY) }),
    );
    expect(all.every((e) => e.at && e.actor)).toBe(true);
    const text = JSON.stringify(all);
    expect(text).not.toContain(globexJob.id);
    for (const key of Object.values(keys)) expect(text).not.toContain(key);

    // Another organization's admin sees only its own.
    const globex = await json<AuditLogList>(
      await fetch(`${t.baseUrl}/api/v1/audit-log`, { headers: bearer(keys.other) }),
    );
    expect(globex.data.length).toBeGreaterThan(0);
    expect(JSON.stringify(globex)).not.toContain(acmeJob.id);
  });

  it('neutralizes export cells that a spreadsheet would run: =, +, -, @', async () => {
    const job = await json<Job>(
      await upload(
        t.baseUrl,
        csvFile(['domain', '@figma.com', 'linear.app', 'vercel.com', 'github.com'], 'formulas.csv'),
        {},
        keys.member,
      ),
    );
    await waitForJob(t, job.id, keys.member);
    // The input column holds the raw cell; a file can bring any text there.
    const payloads: Record<string, string> = {
      'linear.app': '=HYPERLINK("http://evil.example","click")',
      'vercel.com': "+1+cmd|' /C calc'!A0",
      'github.com': '-2+3',
    };
    for (const [domain, input] of Object.entries(payloads)) {
      await t.system.database.db.execute(
        sql`update companies set input = ${input} where job_id = ${job.id} and domain = ${domain}`,
      );
    }
    const res = await fetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv`, {
      headers: bearer(keys.member),
    });
    expect(res.status).toBe(200);
    const rows: Record<string, string>[] = parse(await res.text(), { columns: true, bom: true });
    const inputs = Object.fromEntries(rows.map((r) => [r.domain, r.input]));
    expect(inputs['figma.com']).toBe("'@figma.com");
    for (const [domain, input] of Object.entries(payloads)) expect(inputs[domain]).toBe(`'${input}`);
    for (const row of rows) {
      for (const cell of Object.values(row)) expect(cell, JSON.stringify(row)).not.toMatch(/^[=+\-@]/);
    }
  });

  it('sends security headers, and no CORS headers to an origin nobody configured', async () => {
    const res = await fetch(`${t.baseUrl}/api/v1/me`, {
      headers: { ...bearer(keys.viewer), origin: 'https://evil.example' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const scriptSrc = (csp: string | null) => csp?.split(';').find((d) => d.trim().startsWith('script-src'));
    // Outside /docs, no inline script runs unless its hash is listed.
    expect(scriptSrc(res.headers.get('content-security-policy'))).not.toContain('unsafe-inline');
    const docs = await fetch(`${t.baseUrl}/docs`);
    expect(scriptSrc(docs.headers.get('content-security-policy'))).toContain("'self'");
  });

  it('never writes a key to the logs', async () => {
    const basic = `Basic ${Buffer.from(`x:${keys.admin}`).toString('base64')}`;
    for (const headers of [
      bearer(keys.admin),
      bearer(keys.revoked),
      bearer(`gtm_${'B'.repeat(43)}`),
      { authorization: basic },
      { authorization: `Token ${keys.member}` },
    ]) {
      await fetch(`${t.baseUrl}/api/v1/me`, { headers });
      await fetch(`${t.baseUrl}/api/v1/jobs/not-a-uuid`, { headers });
    }
    await fetch(`${t.baseUrl}/api/v1/keys`, {
      method: 'POST',
      headers: { ...bearer(keys.admin), 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer' }),
    });
    await expect.poll(() => logLines.length).toBeGreaterThan(10);
    const log = logLines.join('');
    // The capture works: requests and the bootstrap are there, by prefix only.
    expect(log).toContain('/api/v1/me');
    expect(log).toContain(suppliedKeyPrefix(TEST_ADMIN_KEY));
    for (const key of Object.values(keys)) expect(log).not.toContain(key);
    expect(log).not.toContain(Buffer.from(`x:${keys.admin}`).toString('base64'));
    expect(log).not.toMatch(/gtm_[A-Za-z0-9_-]{40,}/);
  });
});

describe.each(queueKinds())('the per-key rate limit on the %s queue', (queue) => {
  let a: TestSystem;
  let b: TestSystem;
  beforeAll(async () => {
    a = await startTestSystem({ queue, env: { API_RATE_LIMIT_PER_MIN: '4' } });
    // A second API process on the same database (and, on BullMQ, the same Redis).
    b = await startTestSystem({
      queue,
      env: { API_RATE_LIMIT_PER_MIN: '4' },
      roles: { api: true, worker: false },
      shareWith: a,
    });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('answers 429 with Retry-After past the limit, per key', async () => {
    const key = await a.keyFor('acme', 'viewer');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await fetch(`${a.baseUrl}/api/v1/me`, { headers: bearer(key) })).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    const limited = await fetch(`${a.baseUrl}/api/v1/me`, { headers: bearer(key) });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    // Another key has its own budget.
    expect((await fetch(`${a.baseUrl}/api/v1/me`, { headers: bearer(a.key) })).status).toBe(200);
    // Health checks are not counted.
    for (let i = 0; i < 6; i++) expect((await fetch(`${a.baseUrl}/healthz`)).status).toBe(200);
  });

  it.runIf(queue === 'bullmq' && inject('redisUrl'))(
    'shares one budget per key between API processes through Redis',
    async () => {
      const key = await a.keyFor('acme', 'member');
      for (let i = 0; i < 2; i++)
        expect((await fetch(`${a.baseUrl}/api/v1/me`, { headers: bearer(key) })).status).toBe(200);
      for (let i = 0; i < 2; i++)
        expect((await fetch(`${b.baseUrl}/api/v1/me`, { headers: bearer(key) })).status).toBe(200);
      expect((await fetch(`${b.baseUrl}/api/v1/me`, { headers: bearer(key) })).status).toBe(429);
    },
  );
});
