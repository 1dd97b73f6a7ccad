/**
 * Every route of the OpenAPI document, driven with random and hostile path parameters, query
 * strings, JSON bodies and multipart forms: none answers 5xx, every error is in the one shape,
 * and no log line at info level or above carries SQL (a statement, or a user's values in it).
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../src/db/cursor';
import { csvFile, startTestSystem, TEST_ADMIN_KEY, type TestSystem, upload } from './test-system';

type Operation = {
  parameters?: {
    name: string;
    in: 'path' | 'query' | 'header';
    schema?: { type?: string; enum?: string[] };
  }[];
  requestBody?: { content: Record<string, unknown> };
};
type OpenApi = { paths: Record<string, Record<string, Operation>> };

const LEVEL_INFO = 30;
const LEVEL_NUMBERS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
const SQL_TEXT = /\b(select\s.+\sfrom|insert\s+into|update\s+\S+\s+set|delete\s+from|Failed query|params:)/is;

/** Values that broke, or could break, a route: bad types, edges of int4 and dates, injection. */
const HOSTILE = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '%00',
  '-1',
  '0',
  '2147483648',
  '9999999999999999999999',
  '1e309',
  'NaN',
  'Infinity',
  '1.5',
  'true',
  'null',
  '[]',
  '{}',
  "' or 1=1 --",
  '"; drop table jobs; --',
  '../../etc/passwd',
  '\u202e\u0007\u001b[31m',
  '\ud800',
  'x'.repeat(5000),
  '5b0b3d1e-8f5c-4a57-9d6a-2f7c1c9e0a11',
  '00000000-0000-0000-0000-000000000000',
  encodeCursor({ t: '+275760-09-13T00:00:00.000Z', id: '5b0b3d1e-8f5c-4a57-9d6a-2f7c1c9e0a11' }),
  encodeCursor({ t: 'yesterday', id: 'x' }),
  encodeCursor(2 ** 31),
  encodeCursor(-5),
  encodeCursor('1'),
  encodeCursor(null),
  'eyJ0IjoxfQ',
];

const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
);

const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom('role', 'name', 'include_not_found', 'org_id', '__proto__'), value),
  fc.record({ role: fc.constantFrom('viewer', 'member', 'admin', 'root'), name: value }),
);

/** Fills a path template's `{param}` slots; sometimes raw (not percent-encoded) to test the router. */
function fillPath(template: string, values: string[], encode: boolean): string {
  let i = 0;
  return template.replace(/\{[^}]+\}/g, () => {
    const v = values[i++ % values.length] ?? '';
    // A lone surrogate has no UTF-8 form to percent-encode: it becomes U+FFFD, as a browser sends it.
    return encode ? encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '\ufffd')) : v.replace(/[/?#\s]/g, '');
  });
}

describe('API fuzz', () => {
  let t: TestSystem;
  let doc: OpenApi;
  const lines: { level: number; text: string }[] = [];
  let realJobId = '';

  beforeAll(async () => {
    t = await startTestSystem({
      env: { MAX_UPLOAD_BYTES: '200000', MAX_ROWS: '200', RATE_LIMIT_PER_MINUTE: '0' },
      logDestination: new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const text of chunk.toString('utf8').split('\n')) {
            if (text.trim() === '') continue;
            // Lines say their level by name ("info"); compared here by pino's numbers.
            const named = (JSON.parse(text) as { level?: string }).level ?? '';
            const level = LEVEL_NUMBERS[named] ?? 0;
            lines.push({ level, text });
          }
          done();
        },
      }),
    });
    doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as OpenApi;
    const res = await upload(t.baseUrl, csvFile(['domain', 'stripe.com', 'not a domain']));
    realJobId = ((await res.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers every route with anything but a 5xx, and logs no SQL at info level', async () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({
          path,
          method: method.toUpperCase(),
          multipart: Boolean(op.requestBody?.content['multipart/form-data']),
        })),
    );
    // Every documented route, not a sample: a route added later is fuzzed without a change here.
    expect(operations.length).toBeGreaterThan(10);

    const request = fc.record({
      operation: fc.constantFrom(...operations),
      pathValues: fc.array(fc.oneof(value, fc.constant(realJobId)), { minLength: 1, maxLength: 3 }),
      encodePath: fc.boolean(),
      query: fc.dictionary(
        fc.constantFrom('org_id', 'limit', 'cursor', 'q', 'status', 'layout', 'format', 'x'),
        value,
        {
          maxKeys: 4,
        },
      ),
      body: fc.option(jsonBody, { nil: undefined }),
      form: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
    });

    await fc.assert(
      fc.asyncProperty(request, async ({ operation, pathValues, encodePath, query, body, form }) => {
        const { path, method, multipart } = operation;
        // Revoking random keys is fine, but never the one this test runs on.
        if (path.includes('revoke') && pathValues.some((v) => TEST_ADMIN_KEY.startsWith(v))) return;
        const url = new URL(`${t.baseUrl}${fillPath(path, pathValues, encodePath)}`);
        for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
        const headers: Record<string, string> = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
        let payload: FormData | string | undefined;
        if (method !== 'GET') {
          if (multipart && form) {
            const data = new FormData();
            for (const [k, v] of Object.entries(query)) data.append(k, v);
            data.append('file', new File([form], 'fuzz.csv'));
            payload = data;
          } else if (body !== undefined) {
            headers['content-type'] = 'application/json';
            payload = JSON.stringify(body);
          }
        }
        let res: Response;
        try {
          res = await fetch(url, { method, headers, body: payload });
        } catch (err) {
          // A path the URL parser or fetch itself refuses never reaches the server.
          if (err instanceof TypeError) return;
          throw err;
        }
        const text = await res.text();
        expect(res.status, `${method} ${url.pathname}${url.search} → ${text.slice(0, 300)}`).toBeLessThan(
          500,
        );
        if (res.status >= 400 && res.headers.get('content-type')?.includes('json')) {
          const parsed = JSON.parse(text) as {
            error?: { code?: unknown; message?: unknown; request_id?: unknown };
          };
          expect(parsed.error).toMatchObject({
            code: expect.any(String),
            message: expect.any(String),
            request_id: expect.any(String),
          });
        }
      }),
      { numRuns: 400 },
    );

    const withSql = lines.filter((l) => l.level >= LEVEL_INFO && SQL_TEXT.test(l.text));
    expect(withSql.map((l) => l.text.slice(0, 300))).toEqual([]);
    // The logger was listening: the fuzzed requests were logged.
    expect(lines.length).toBeGreaterThan(100);
  });
});
