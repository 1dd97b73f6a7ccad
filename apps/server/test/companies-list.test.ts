/**
 * The companies page as the page polls it: sorted by any column with keyset pages that neither
 * skip nor repeat a row, conditional answers (ETag → 304), compressed JSON, only the rows changed
 * since a time, and a cached principal that a revocation still stops within its bound.
 */
import { gunzipSync } from 'node:zlib';
import { COMPANY_SORT_KEYS, type Company, type CompanyList, type Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPrincipalCache, PRINCIPAL_CACHE_TTL_MS } from '../src/http/auth';
import { apiFetch, bearer, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const DOMAINS = Array.from({ length: 37 }, (_, i) => `sorted-${String(i).padStart(2, '0')}.com`);

describe('companies list', () => {
  let t: TestSystem;
  let job: Job;
  const url = (query = '') => `${t.baseUrl}/api/v1/jobs/${job.id}/companies${query}`;
  const list = async (query: string) => {
    const res = await apiFetch(url(query));
    expect(res.status).toBe(200);
    return (await res.json()) as CompanyList;
  };

  beforeAll(async () => {
    t = await startTestSystem();
    // Three that the sandbox does not match (no name, no size): rows without a value sort last.
    const file = csvFile(['domain', ...DOMAINS, 'nomatch-a.com', 'nomatch-b.com', 'nomatch-c.com']);
    job = (await (await upload(t.baseUrl, file)).json()) as Job;
    await vi.waitFor(
      async () => {
        const res = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}`);
        if (((await res.json()) as Job).status !== 'completed') throw new Error('job still running');
      },
      { timeout: 20_000, interval: 100 },
    );
    // The sandbox gives no match confidence: some here, with ties, and every fifth row without one.
    await t.system.database.db.execute(sql`
      update companies set match_confidence = ((row_number * 7) % 11) / 10.0
      where job_id = ${job.id} and row_number % 5 <> 0`);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('sorts and filters by match confidence, rows without one last', async () => {
    for (const sort of ['match_confidence', '-match_confidence']) {
      const rows = await walk(sort, 6);
      expect(rows).toHaveLength(40);
      const values = rows.map((c) => c.match_confidence);
      const known = values.filter((v): v is number => v !== null);
      expect(values.slice(known.length).every((v) => v === null)).toBe(true);
      const ordered = [...known].sort((a, b) => (sort.startsWith('-') ? b - a : a - b));
      expect(known, sort).toEqual(ordered);
    }
    const confident = await list('?min_confidence=0.5&limit=500');
    expect(confident.data.length).toBeGreaterThan(0);
    expect(confident.data.every((c) => (c.match_confidence ?? 0) >= 0.5)).toBe(true);
    const all = (await list('?limit=500')).data;
    expect(confident.data.length).toBe(all.filter((c) => (c.match_confidence ?? -1) >= 0.5).length);
  });

  async function walk(sort: string, limit: number): Promise<Company[]> {
    const rows: Company[] = [];
    let cursor: string | null = null;
    do {
      const page: CompanyList = await list(
        `?sort=${sort}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      rows.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return rows;
  }

  it('pages through every sort, ascending and descending, each row once, in the order of one whole page', async () => {
    for (const key of COMPANY_SORT_KEYS) {
      for (const sort of [key, `-${key}`]) {
        const whole = (await list(`?sort=${sort}&limit=500`)).data;
        expect(whole).toHaveLength(40);
        const paged = await walk(sort, 7);
        expect(
          paged.map((c) => c.id),
          sort,
        ).toEqual(whole.map((c) => c.id));
      }
    }
  });

  it('sorts by value with rows without one last, in both directions', async () => {
    const asc = (await list('?sort=name&limit=500')).data;
    const desc = (await list('?sort=-name&limit=500')).data;
    const named = (rows: Company[]) => rows.filter((c) => c.name !== null).map((c) => c.name!.toLowerCase());
    expect(named(asc)).toEqual([...named(asc)].sort());
    expect(named(desc)).toEqual([...named(asc)].reverse());
    for (const rows of [asc, desc]) {
      expect(rows.slice(-3).every((c) => c.name === null)).toBe(true);
      expect(rows.slice(-3).map((c) => c.row_number)).toEqual([38, 39, 40]);
    }
    const bySize = (await list('?sort=company_size&limit=500')).data.filter((c) => c.company_size);
    const lower = (v: string) => Number(/\d+/.exec(v.replace(/,/g, ''))![0]);
    const bounds = bySize.map((c) => lower(c.company_size!));
    expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
    const byStatus = (await list('?sort=-status&limit=500')).data.map((c) => c.status);
    expect(byStatus.slice(0, 3)).toEqual(['not_found', 'not_found', 'not_found']);
  });

  it('refuses a cursor of another sort, or a forged one, with 400 rather than a wrong page', async () => {
    const page = await list('?sort=name&limit=5');
    const other = await apiFetch(url(`?sort=industry&cursor=${page.next_cursor}`));
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('INVALID_CURSOR');
    const forged = Buffer.from(JSON.stringify({ s: 'company_size', v: "1'; drop", r: 1 })).toString(
      'base64url',
    );
    expect((await apiFetch(url(`?sort=company_size&cursor=${forged}`))).status).toBe(400);
    expect((await apiFetch(url('?sort=nonsense'))).status).toBe(400);
  });

  it('answers 304 to a poll whose ETag still holds, and 200 again once the answer changed', async () => {
    const first = await apiFetch(url('?limit=5'));
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await apiFetch(url('?limit=5'), { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const otherPage = await apiFetch(url('?limit=6'), { headers: { 'if-none-match': etag! } });
    expect(otherPage.status).toBe(200);
    const jobRes = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}`);
    const jobTag = jobRes.headers.get('etag')!;
    expect(
      (await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}`, { headers: { 'if-none-match': jobTag } })).status,
    ).toBe(304);
    // The job changes (its credit limit): the old tag no longer holds.
    await t.system.database.db.execute(`update jobs set max_credits = 999 where id = '${job.id}'`);
    const changed = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}`, {
      headers: { 'if-none-match': jobTag },
    });
    expect(changed.status).toBe(200);
  });

  it('compresses JSON and CSV for clients that accept it', async () => {
    const res = await apiFetch(url('?limit=40'), { headers: { 'accept-encoding': 'gzip' } });
    // fetch inflates by itself; the header says what came over the wire.
    expect(res.headers.get('content-encoding')).toBe('gzip');
    const br = await apiFetch(url('?limit=40'), { headers: { 'accept-encoding': 'br' } });
    expect(br.headers.get('content-encoding')).toBe('br');
    const csv = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(csv.headers.get('content-encoding')).toBe('gzip');
    expect((await csv.text()).split('\n').length).toBeGreaterThan(40);
    // A raw request, to see the bytes: smaller than the JSON they carry.
    const raw = await import('node:http').then(
      (http) =>
        new Promise<{ bytes: Buffer }>((resolve, reject) => {
          const u = new URL(url('?limit=40'));
          http
            .get(u, { headers: { ...bearer(t.key), 'accept-encoding': 'gzip' } }, (r) => {
              const chunks: Buffer[] = [];
              r.on('data', (c: Buffer) => chunks.push(c));
              r.on('end', () => resolve({ bytes: Buffer.concat(chunks) }));
            })
            .on('error', reject);
        }),
    );
    const json = gunzipSync(raw.bytes).toString('utf8');
    expect((JSON.parse(json) as CompanyList).data).toHaveLength(40);
    expect(raw.bytes.length).toBeLessThan(json.length / 3);
  });

  it('returns only the rows changed since a time, and only up to a row number', async () => {
    const all = (await list('?limit=500')).data;
    const newest = all
      .map((c) => c.updated_at)
      .sort()
      .at(-1)!;
    const since = new Date(new Date(newest).getTime() + 1).toISOString();
    expect((await list(`?updated_since=${since}`)).data).toEqual([]);
    await t.system.database.db.execute(
      `update companies set updated_at = now() where job_id = '${job.id}' and row_number in (3, 30)`,
    );
    const changed = (await list(`?updated_since=${since}`)).data.map((c) => c.row_number);
    expect(changed).toEqual([3, 30]);
    expect((await list(`?updated_since=${since}&max_row=10`)).data.map((c) => c.row_number)).toEqual([3]);
    expect(
      (await list(`?updated_since=${since}&min_row=4&max_row=40`)).data.map((c) => c.row_number),
    ).toEqual([30]);
    expect((await apiFetch(url('?updated_since=yesterday'))).status).toBe(400);
  });

  it('keeps a checked key for a few seconds, and a key revoked elsewhere stops within that bound', async () => {
    const { key, apiKey } = await t.system.auth.createKey({ orgId: 'acme', role: 'viewer', actor: 'cli' });
    const me = () => fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(key) });
    expect((await me()).status).toBe(200);
    // Revoked in the database, as another API process (or the CLI) would: this process learns it
    // when its cached principal expires.
    const revokedAt = Date.now();
    await t.system.auth.revokeKey(apiKey.prefix, { actor: 'cli' });
    await expect.poll(async () => (await me()).status, { timeout: PRINCIPAL_CACHE_TTL_MS + 3_000 }).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(PRINCIPAL_CACHE_TTL_MS + 2_000);
  });
});

describe('principal cache', () => {
  it('serves a valid principal until its TTL, never a failure', () => {
    let now = 0;
    const cache = createPrincipalCache(5_000, () => now);
    const ok = {
      ok: true as const,
      auth: { keyId: 'k', keyPrefix: 'p', orgId: 'o', orgName: 'o', role: 'viewer' as const },
    };
    cache.set('key-a', ok);
    cache.set('key-b', { ok: false, failure: 'unknown' });
    expect(cache.get('key-a')).toBe(ok);
    expect(cache.get('key-b')).toBeNull();
    now = 4_999;
    expect(cache.get('key-a')).toBe(ok);
    now = 5_000;
    expect(cache.get('key-a')).toBeNull();
    cache.set('key-a', ok);
    cache.clear();
    expect(cache.get('key-a')).toBeNull();
  });
});
