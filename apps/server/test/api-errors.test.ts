/**
 * Bad input gets a 4xx with a message a person can act on, in the one error shape, and never
 * a 500. Also the docs, health and readiness endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

type ErrorBody = {
  error: { code: string; message: string; details?: Record<string, unknown>; request_id: string };
};

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody['error']> {
  const body = (await res.json()) as ErrorBody;
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(10);
  expect(body.error.request_id).toBeTruthy();
  return body.error;
}

describe('API errors', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ env: { MAX_UPLOAD_BYTES: '4096', MAX_ROWS: '50' } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('names the columns it found when there is no domain column', async () => {
    const err = await expectError(
      await upload(t.baseUrl, csvFile(['name,city', 'Stripe,San Francisco'])),
      422,
      'NO_DOMAIN_COLUMN',
    );
    expect(err.message).toContain('name');
    expect(err.message).toContain('city');
    expect(err.details).toMatchObject({ columns_found: ['name', 'city'] });
  });

  it('finds the domain column whatever its case', async () => {
    const res = await upload(t.baseUrl, csvFile(['Name,DOMAIN', 'Stripe,stripe.com']));
    expect(res.status).toBe(202);
  });

  it('rejects a form without a file', async () => {
    const form = new FormData();
    form.append('org_id', 'acme');
    const err = await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/uploads`, { method: 'POST', body: form }),
      400,
      'MISSING_FILE',
    );
    expect(err.message).toContain('"file"');
  });

  it('rejects a request that is not multipart', async () => {
    await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ org_id: 'acme' }),
      }),
      406,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('takes the organization from the key: org_id may be left out, must be well-formed and the same', async () => {
    const missing = await upload(t.baseUrl, csvFile(['domain', 'stripe.com']), {});
    expect(missing.status).toBe(202);
    expect(((await missing.json()) as { org_id: string }).org_id).toBe('acme');
    const bad = await expectError(
      await upload(t.baseUrl, csvFile(['domain', 'stripe.com']), { org_id: 'no spaces allowed' }, t.key),
      400,
      'VALIDATION_FAILED',
    );
    expect(bad.message).toContain('org_id');
    await expectError(
      await upload(t.baseUrl, csvFile(['domain', 'stripe.com']), { org_id: 'someone-else' }, t.key),
      403,
      'FORBIDDEN',
    );
  });

  it('rejects an empty file and a header without rows', async () => {
    await expectError(await upload(t.baseUrl, csvFile([])), 422, 'EMPTY_FILE');
    await expectError(await upload(t.baseUrl, csvFile(['domain'])), 422, 'EMPTY_FILE');
  });

  it('rejects binary data that is not a CSV', async () => {
    const zip = new Uint8Array([
      0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00,
    ]);
    const res = await upload(t.baseUrl, new File([zip], 'list.xlsx'));
    expect([415, 422]).toContain(res.status);
    const body = (await res.json()) as ErrorBody;
    expect(['NOT_CSV', 'UNSUPPORTED_ENCODING']).toContain(body.error.code);
  });

  it('answers 422 with the reasons when no row has a usable domain', async () => {
    const err = await expectError(
      await upload(t.baseUrl, csvFile(['domain', '192.168.0.1', 'bob@gmail.com', 'n/a'])),
      422,
      'NO_VALID_DOMAINS',
    );
    expect(err.details?.rejected).toHaveLength(3);
  });

  it('refuses a file over MAX_UPLOAD_BYTES with the limit in the message', async () => {
    const lines = ['domain', ...Array.from({ length: 30 }, (_, i) => `company-${i}-${'x'.repeat(200)}.com`)];
    const err = await expectError(await upload(t.baseUrl, csvFile(lines)), 413, 'PAYLOAD_TOO_LARGE');
    expect(err.message).toContain('4096');
  });

  it('refuses more rows than MAX_ROWS with the limit in the message', async () => {
    const lines = ['domain', ...Array.from({ length: 60 }, (_, i) => `c${i}.com`)];
    const err = await expectError(await upload(t.baseUrl, csvFile(lines)), 413, 'TOO_MANY_ROWS');
    expect(err.message).toContain('50');
  });

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/jobs/5b0b3d1e-8f5c-4a57-9d6a-2f7c1c9e0a11?org_id=acme`),
      404,
      'NOT_FOUND',
    );
    const bad = await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/jobs/123?org_id=acme`),
      400,
      'VALIDATION_FAILED',
    );
    expect(bad.message).toContain('UUID');
    await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/jobs?org_id=acme&cursor=garbage`),
      400,
      'INVALID_CURSOR',
    );
    await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/jobs?org_id=acme&limit=100000`),
      400,
      'VALIDATION_FAILED',
    );
    await expectError(await apiFetch(`${t.baseUrl}/api/v1/nothing`), 404, 'ROUTE_NOT_FOUND');
  });

  it('refuses to resume a job that is not paused', async () => {
    const res = await upload(t.baseUrl, csvFile(['domain', 'resume-me.com']));
    const job = (await res.json()) as { id: string };
    const resumed = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/resume?org_id=acme`, {
      method: 'POST',
    });
    await expectError(resumed, 409, 'CONFLICT');
  });

  it('serves health, readiness, the OpenAPI document and the docs page', async () => {
    expect(await (await fetch(`${t.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { database: { ok: true }, queue: { ok: true } },
    });

    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/uploads',
        '/api/v1/jobs',
        '/api/v1/jobs/{jobId}',
        '/api/v1/jobs/{jobId}/companies',
        '/api/v1/jobs/{jobId}/export.csv',
      ]),
    );
    expect(Object.keys(doc.paths['/api/v1/uploads']!.post!.requestBody!.content)).toEqual([
      'multipart/form-data',
    ]);

    const docs = await fetch(`${t.baseUrl}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
  });
});
