/**
 * Idempotent uploads (Stripe's semantics): the same Idempotency-Key with the same request returns
 * the first response and makes no second job; with another request it is refused.
 */
import type { Job, JobList } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, csvFile, startTestSystem, TEST_ADMIN_KEY, type TestSystem } from './test-system';

function send(
  t: TestSystem,
  lines: string[],
  headers: Record<string, string>,
  fields: Record<string, string> = {},
) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', csvFile(lines, 'idem.csv'));
  return apiFetch(`${t.baseUrl}/api/v1/uploads`, {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...headers },
  });
}

describe('Idempotency-Key on uploads', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const jobCount = async () =>
    ((await (await apiFetch(`${t.baseUrl}/api/v1/jobs?limit=100`)).json()) as JobList).data.length;

  it('answers a repeated request with the first response and no second job', async () => {
    const before = await jobCount();
    const lines = ['domain', 'idem-one.com', 'idem-two.com'];
    const first = await send(t, lines, { 'idempotency-key': 'upload-0001' });
    expect(first.status).toBe(202);
    const firstJob = (await first.json()) as Job;
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const again = await send(t, lines, { 'idempotency-key': 'upload-0001' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as Job).id).toBe(firstJob.id);
    expect(await jobCount()).toBe(before + 1);
  });

  it('refuses the same key with a different file or different fields', async () => {
    const lines = ['domain', 'idem-three.com'];
    expect((await send(t, lines, { 'idempotency-key': 'upload-0002' })).status).toBe(202);
    const otherFile = await send(t, ['domain', 'idem-four.com'], { 'idempotency-key': 'upload-0002' });
    expect(otherFile.status).toBe(422);
    expect(((await otherFile.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: expect.stringContaining('different request'),
    });
    const otherFields = await send(t, lines, { 'idempotency-key': 'upload-0002' }, { max_credits: '5' });
    expect(otherFields.status).toBe(422);
  });

  it('makes one job out of two identical requests sent at once', async () => {
    const before = await jobCount();
    const lines = ['domain', ...Array.from({ length: 200 }, (_, i) => `idem-race-${i}.com`)];
    const [a, b] = await Promise.all([
      send(t, lines, { 'idempotency-key': 'upload-race' }),
      send(t, lines, { 'idempotency-key': 'upload-race' }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(((await a.json()) as Job).id).toBe(((await b.json()) as Job).id);
    expect(await jobCount()).toBe(before + 1);
  });

  it('keeps keys apart per organization and rejects a malformed key', async () => {
    const lines = ['domain', 'idem-org.com'];
    const mine = (await (await send(t, lines, { 'idempotency-key': 'shared-key' })).json()) as Job;
    const otherKey = await t.keyFor('idem-other-org');
    const theirs = await send(t, lines, {
      'idempotency-key': 'shared-key',
      authorization: `Bearer ${otherKey}`,
    });
    expect(theirs.status).toBe(202);
    expect(((await theirs.json()) as Job).id).not.toBe(mine.id);

    const bad = await send(t, lines, { 'idempotency-key': 'has spaces in it' });
    expect(bad.status).toBe(400);
  });

  it('makes a new job each time without a key', async () => {
    const before = await jobCount();
    const lines = ['domain', 'idem-none.com'];
    expect((await send(t, lines, {})).status).toBe(202);
    expect((await send(t, lines, {})).status).toBe(202);
    expect(await jobCount()).toBe(before + 2);
  });
});
