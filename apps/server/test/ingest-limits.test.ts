/**
 * Memory is bounded by the limits, not by the file: no row may exceed the record limit (quoted or
 * not), and the row export of a file of rows at that limit gives every cell back intact, read in
 * pages bounded by bytes.
 */
import type { Job } from '@gtm-enrich/contracts';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RECORD_SIZE_BYTES } from '../src/ingest/csv-errors';
import { apiFetch, startTestSystem, type TestSystem, upload } from './test-system';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

describe('record limit', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ env: { MAX_UPLOAD_BYTES: String(24 * 1024 * 1024), MAX_ROWS: '1000' } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it.each([
    ['an unquoted cell', (n: number) => 'x'.repeat(n)],
    ['a quoted cell', (n: number) => `"${'y, '.repeat(Math.ceil(n / 3))}"`],
  ])('refuses %s over the limit with 413 naming its line, keeping nothing', async (_name, cell) => {
    const lines = [
      'domain,note',
      'stripe.com,ok',
      `notion.so,${cell(MAX_RECORD_SIZE_BYTES + 10)}`,
      'a.com,x',
    ];
    const res = await upload(t.baseUrl, new File([lines.join('\n')], 'big.csv'));
    const body = (await res.json()) as ErrorBody;
    expect({ status: res.status, code: body.error.code }).toEqual({ status: 413, code: 'RECORD_TOO_LARGE' });
    expect(body.error.message).toContain('line 3');
    expect(body.error.details).toMatchObject({ line: 3 });
    const jobs = await t.system.database.pool.query<{ n: number }>(
      "select count(*)::int as n from jobs where filename = 'big.csv'",
    );
    expect(jobs.rows[0]!.n).toBe(0);
  });

  it('refuses a first row (the header) over the limit as 413, not as an empty file', async () => {
    // A header wider than the first bytes read is read further, so a column past them is found.
    const wide = `${'x,'.repeat(40_000)}domain\n${'a,'.repeat(40_000)}stripe.com\n`;
    const found = await upload(t.baseUrl, new File([wide], 'wide-ok.csv'));
    expect(found.status).toBe(202);
    for (const size of [3, 5]) {
      const res = await upload(
        t.baseUrl,
        new File([`domain,${'h'.repeat(size * 1024 * 1024)}\nstripe.com\n`], 'wide-header.csv'),
      );
      const body = (await res.json()) as ErrorBody;
      expect({ status: res.status, code: body.error.code, line: body.error.details?.line }).toEqual({
        status: 413,
        code: 'RECORD_TOO_LARGE',
        line: 1,
      });
    }
  });

  it('gives back every cell of rows at the limit in the row export, in the file order', async () => {
    // 12 rows of just under 1 MiB each: pages of the export are cut by bytes, not by a row count.
    const unit = 'word, "é" ;\n';
    const big = (i: number) =>
      `${String(i).padStart(4, '0')}${unit.repeat(Math.floor((MAX_RECORD_SIZE_BYTES - 64) / (unit.length + 2)))}`;
    const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const lines = ['domain,note,other'];
    for (let i = 0; i < 12; i++) lines.push(`c${i}.com,${quote(big(i))},${i % 2 ? 'odd' : 'even'}`);
    const res = await upload(t.baseUrl, new File([lines.join('\r\n')], 'limit-rows.csv'));
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;
    expect(job).toMatchObject({ input_rows: 12, total: 12 });

    const exported = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv?layout=rows`);
    expect(exported.status).toBe(200);
    const rows = parse(Buffer.from(await exported.arrayBuffer()), { bom: true }) as string[][];
    expect(rows).toHaveLength(13);
    for (let i = 0; i < 12; i++) {
      expect(rows[i + 1]!.slice(0, 3)).toEqual([`c${i}.com`, big(i), i % 2 ? 'odd' : 'even']);
    }
    // 12 MiB in and out through HTTP and PostgreSQL: slow on a busy 2-core machine.
  }, 120_000);
});
