/**
 * What a client can send that the routes' schemas do not describe: forged cursors, NUL bytes,
 * broken multipart framing, oversized headers and bodies. Each is a 4xx in the one error shape,
 * never a 5xx, and a request refused before its body was read does not hold its connection.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../src/db/cursor';
import { apiFetch, csvFile, startTestSystem, TEST_ADMIN_KEY, type TestSystem, upload } from './test-system';

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

/** Sends raw bytes over one connection; resolves with everything the server wrote before closing. */
function rawRequest(baseUrl: string, bytes: string | Buffer, opts: { endAfterWrite?: boolean } = {}) {
  const { hostname, port } = new URL(baseUrl);
  return new Promise<string>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('utf8');
    });
    socket.on('error', (err) => (answer ? resolve(answer) : reject(err)));
    socket.on('close', () => resolve(answer));
    socket.write(bytes, () => {
      if (opts.endAfterWrite) socket.end();
    });
  });
}

function parseRawAnswer(answer: string): { status: number; headers: string; body: ErrorBody } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(body) as ErrorBody };
}

describe('hostile input', () => {
  let t: TestSystem;
  let jobId: string;
  beforeAll(async () => {
    t = await startTestSystem({ env: { MAX_UPLOAD_BYTES: '1000000', MAX_ROWS: '1000' } });
    const res = await upload(t.baseUrl, csvFile(['domain', 'stripe.com', 'bad..', 'notion.so']));
    jobId = ((await res.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('refuses forged cursors with 400 INVALID_CURSOR', async () => {
    const uuid = '5b0b3d1e-8f5c-4a57-9d6a-2f7c1c9e0a11';
    for (const cursor of [
      { t: 'not a date', id: uuid },
      { t: '2026-01-01T00:00:00.000Z', id: 'not-a-uuid' },
      { t: '+275760-09-13T00:00:00.000Z', id: uuid },
      { t: '2026-02-30T00:00:00.000Z', id: uuid },
      { t: 5, id: uuid },
    ]) {
      await expectError(
        await apiFetch(`${t.baseUrl}/api/v1/jobs?cursor=${encodeCursor(cursor)}`),
        400,
        'INVALID_CURSOR',
      );
    }
    for (const path of ['companies', 'rejected']) {
      for (const cursor of [2 ** 31, -1, 1e300, 1.5, '3']) {
        await expectError(
          await apiFetch(`${t.baseUrl}/api/v1/jobs/${jobId}/${path}?cursor=${encodeCursor(cursor)}`),
          400,
          'INVALID_CURSOR',
        );
      }
      // The largest row number is a cursor like any other.
      const last = await apiFetch(
        `${t.baseUrl}/api/v1/jobs/${jobId}/${path}?cursor=${encodeCursor(2 ** 31 - 1)}`,
      );
      expect(last.status).toBe(200);
    }
  });

  it('refuses a NUL character anywhere in a query, path or JSON body with 400', async () => {
    const q = await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/jobs/${jobId}/companies?q=a%00b`),
      400,
      'VALIDATION_FAILED',
    );
    expect(q.message).toContain('NUL');
    await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/keys/gtm_%00abc/revoke`, { method: 'POST' }),
      400,
      'VALIDATION_FAILED',
    );
    await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'viewer', name: 'a\u0000b' }),
      }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('refuses multipart without a boundary and a truncated multipart body with 400 INVALID_MULTIPART', async () => {
    const noBoundary = await apiFetch(`${t.baseUrl}/api/v1/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data' },
      body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\ndomain\nstripe.com\r\n--x--\r\n',
    });
    expect((await expectError(noBoundary, 400, 'INVALID_MULTIPART')).message).toContain('oundary');

    const head =
      '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\n';
    const truncated = `${head}domain\nstripe.com\nnotion.so\n`;
    const answer = await rawRequest(
      t.baseUrl,
      `POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_ADMIN_KEY}\r\n` +
        'Content-Type: multipart/form-data; boundary=XYZ\r\nConnection: close\r\n' +
        `Content-Length: ${Buffer.byteLength(truncated)}\r\n\r\n${truncated}`,
    );
    const parsed = parseRawAnswer(answer);
    expect({ status: parsed.status, code: parsed.body.error.code }).toEqual({
      status: 400,
      code: 'INVALID_MULTIPART',
    });
    const jobs = await t.system.database.pool.query<{ n: number }>(
      "select count(*)::int as n from jobs where status = 'ingesting'",
    );
    expect(jobs.rows[0]!.n).toBe(0);
  });

  it('answers headers too large with 431 in the error shape', async () => {
    const answer = await rawRequest(
      t.baseUrl,
      `GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nCookie: ${'a'.repeat(40_000)}\r\n\r\n`,
    );
    const parsed = parseRawAnswer(answer);
    expect(parsed.status).toBe(431);
    expect(parsed.body.error.code).toBe('HEADERS_TOO_LARGE');
    expect(parsed.body.error.request_id).toBeTruthy();
    expect(parsed.body.error.message).toMatch(/\d+ bytes/);
  });

  it('says the real limit of a JSON body that is too large', async () => {
    const err = await expectError(
      await apiFetch(`${t.baseUrl}/api/v1/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'viewer', name: 'x'.repeat(2 * 1024 * 1024) }),
      }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expect(err.message).toContain('1048576 bytes');
    expect(err.message).not.toContain('1000000 bytes');
  });

  it('answers 413 for a file cut by MAX_UPLOAD_BYTES, even inside a quoted field', async () => {
    const quoted = `"${'note with, commas '.repeat(56_000)}"`;
    const err = await expectError(
      await upload(t.baseUrl, csvFile(['domain,note', `stripe.com,${quoted}`])),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expect(err.message).toContain('1000000');
  });

  it('closes the connection of an upload refused before its body was read, within seconds', async () => {
    // A domain_column (sent before the file) that the header lacks is refused from the first
    // bytes; the rest of the body is never read. What is sent ends on a line break, which once made
    // the reader wait for more before judging the header.
    const head =
      '--XYZ\r\nContent-Disposition: form-data; name="domain_column"\r\n\r\nWebsite\r\n' +
      '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\n';
    const first = `${head}name,city\n${'Acme,Paris\n'.repeat(8_000)}`;
    const started = Date.now();
    const answer = await rawRequest(
      t.baseUrl,
      `POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_ADMIN_KEY}\r\n` +
        'Content-Type: multipart/form-data; boundary=XYZ\r\n' +
        `Content-Length: ${Buffer.byteLength(first) + 50_000_000}\r\n\r\n${first}`,
    );
    const parsed = parseRawAnswer(answer);
    expect(parsed.status).toBe(422);
    // Closed by the server within its grace, not by the 2-minute idle timeout.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
