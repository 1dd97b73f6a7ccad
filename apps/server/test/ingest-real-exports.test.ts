/**
 * Real exports and real forms: form fields on either side of the file, a blank domain cell that a
 * website column fills (HubSpot), an Excel `sep=` line, report titles above the header
 * (Salesforce), and a file read in the background that has no usable domain keeping its reasons.
 */
import type { Job } from '@gtm-enrich/contracts';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, startTestSystem, TEST_ADMIN_KEY, type TestSystem } from './test-system';

const INLINE_MAX_ROWS = 5;

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

/** POSTs a form whose parts are sent in the order given (`file` where it stands). */
async function uploadForm(t: TestSystem, parts: [string, string | File][]): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of parts) form.append(name, value);
  return fetch(`${t.baseUrl}/api/v1/uploads`, {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
  });
}

const csv = (lines: string[], name = 'export.csv') =>
  new File([lines.join('\r\n')], name, { type: 'text/csv' });

async function companies(
  t: TestSystem,
  jobId: string,
): Promise<{ domain: string; input: string; row_number: number }[]> {
  const res = await apiFetch(`${t.baseUrl}/api/v1/jobs/${jobId}/companies?limit=500`);
  return ((await res.json()) as { data: { domain: string; input: string; row_number: number }[] }).data.map(
    ({ domain, input, row_number }) => ({ domain, input, row_number }),
  );
}

async function settled(t: TestSystem, jobId: string): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(
      async () => {
        job = (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${jobId}`)).json()) as Job;
        return job.status;
      },
      { timeout: 20_000, interval: 100 },
    )
    .not.toBe('ingesting');
  return job!;
}

describe('real exports', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ env: { UPLOAD_INLINE_MAX_ROWS: String(INLINE_MAX_ROWS), MAX_ROWS: '1000' } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('honours domain_column, org_id, max_credits and force_refresh sent after the file', async () => {
    const file = csv(['Name,Site,Domain', 'Stripe,stripe.com,not-this.com', 'Notion,notion.so,nor-this.com']);
    const res = await uploadForm(t, [
      ['file', file],
      ['domain_column', 'Site'],
      ['org_id', 'acme'],
      ['max_credits', '7'],
      ['force_refresh', 'true'],
    ]);
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job & { max_credits: number | null; force_refresh: boolean };
    expect(job).toMatchObject({ total: 2, max_credits: 7, force_refresh: true });
    expect((await companies(t, job.id)).map((c) => c.domain)).toEqual(['stripe.com', 'notion.so']);

    // A file without a recognized column is accepted when domain_column names one after it.
    const unnamed = await uploadForm(t, [
      ['file', csv(['Name,Site', 'Stripe,stripe.com'])],
      ['domain_column', 'Site'],
    ]);
    expect(unnamed.status).toBe(202);
  });

  it('refuses a domain_column sent after the file that is not in it, keeping nothing', async () => {
    const res = await uploadForm(t, [
      ['file', csv(['Name,Site', 'Stripe,stripe.com'], 'after-missing.csv')],
      ['domain_column', 'Nope'],
    ]);
    const body = (await res.json()) as ErrorBody;
    expect({ status: res.status, code: body.error.code }).toEqual({ status: 422, code: 'NO_DOMAIN_COLUMN' });
    expect(body.error.message).toContain("'Nope'");
    const none = await uploadForm(t, [
      ['file', csv(['Name,Site', 'Stripe,stripe.com'], 'after-missing.csv')],
    ]);
    expect(((await none.json()) as ErrorBody).error.code).toBe('NO_DOMAIN_COLUMN');
    const kept = await t.system.database.pool.query<{ n: number }>(
      "select count(*)::int as n from jobs where filename = 'after-missing.csv'",
    );
    expect(kept.rows[0]!.n).toBe(0);
  });

  it('takes the domain from the next recognized column when the domain cell is blank (HubSpot)', async () => {
    const res = await uploadForm(t, [
      [
        'file',
        csv([
          'Record ID,Company name,Company Domain Name,Website URL',
          '1,Stripe,stripe.com,https://stripe.com',
          '2,Notion,,https://www.notion.so/product',
          '3,Nobody,,',
          '4,Linear,  ,linear.app',
        ]),
      ],
    ]);
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;
    expect(job).toMatchObject({ total: 3, input_rows: 4, rejected_rows: 1 });
    expect(await companies(t, job.id)).toEqual([
      { domain: 'stripe.com', input: 'stripe.com', row_number: 1 },
      { domain: 'notion.so', input: 'https://www.notion.so/product', row_number: 2 },
      { domain: 'linear.app', input: 'linear.app', row_number: 4 },
    ]);
    const rejected = (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/rejected`)).json()) as {
      data: { row_number: number; reason: string }[];
    };
    expect(rejected.data.map((r) => [r.row_number, r.reason])).toEqual([[3, 'empty']]);
  });

  it("reads an Excel file that starts with a 'sep=' line", async () => {
    const res = await uploadForm(t, [
      ['file', csv(['sep=;', 'Name;Website', 'Stripe;stripe.com', 'Notion, Inc.;notion.so'])],
    ]);
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job & { input_header?: unknown };
    expect(job).toMatchObject({ total: 2, input_rows: 2, rejected_rows: 0 });
    expect((await companies(t, job.id)).map((c) => c.domain)).toEqual(['stripe.com', 'notion.so']);
  });

  it('skips report titles above the header, or reads from header_row', async () => {
    const report = [
      '"Accounts with websites"',
      '"Generated by Dana, 2026-11-30"',
      '',
      'Account Name,Website,Owner',
      'Stripe,stripe.com,Dana',
      'Notion,notion.so,Dana',
    ];
    const detected = await uploadForm(t, [['file', csv(report)]]);
    expect(detected.status).toBe(202);
    const job = (await detected.json()) as Job;
    expect(job).toMatchObject({ total: 2, input_rows: 2, rejected_rows: 0 });

    // A header the aliases do not know: header_row and domain_column together.
    const custom = [
      'Pipeline report',
      '',
      'Acct,Web',
      'Stripe,stripe.com',
      'Notion,notion.so',
      'Linear,linear.app',
    ];
    const named = await uploadForm(t, [
      ['header_row', '3'],
      ['domain_column', 'Web'],
      ['file', csv(custom)],
    ]);
    expect(named.status).toBe(202);
    expect(((await named.json()) as Job).total).toBe(3);

    const late = await uploadForm(t, [
      ['file', csv(custom)],
      ['domain_column', 'Web'],
      ['header_row', '3'],
    ]);
    const body = (await late.json()) as ErrorBody;
    expect({ status: late.status, code: body.error.code }).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
    });
    expect(body.error.message).toContain('header_row');
  });

  it("exports the rows in the upload's own delimiter and encoding with format=source", async () => {
    const text = '\ufeffName;Website;Note\r\nStripe;stripe.com;"a; b"\r\nNobody;n/a;é\r\n';
    const res = await uploadForm(t, [['file', new File([Buffer.from(text, 'utf16le')], 'unicode.csv')]]);
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;

    const source = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv?layout=rows&format=source`);
    expect(source.status).toBe(200);
    expect(source.headers.get('content-type')).toBe('text/csv; charset=utf-16le');
    const bytes = Buffer.from(await source.arrayBuffer());
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    const rows = parse(bytes.toString('utf16le').slice(1), { delimiter: ';' }) as string[][];
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['Name', 'Website', 'Note'],
      ['Stripe', 'stripe.com', 'a; b'],
      ['Nobody', 'n/a', 'é'],
    ]);
    expect(rows[0]).toContain('enriched_status');
    expect(rows[2]).toContain('rejected');

    // The default stays comma-separated UTF-8 with a BOM, and the companies layout follows format too.
    const plain = Buffer.from(
      await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv?layout=rows`)).arrayBuffer(),
    );
    expect(plain.subarray(0, 3).toString('hex')).toBe('efbbbf');
    expect(plain.toString('utf8')).toContain('Stripe,stripe.com,a; b');
    const companiesExport = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv?format=source`);
    const companyRows = parse(
      Buffer.from(await companiesExport.arrayBuffer())
        .toString('utf16le')
        .slice(1),
      {
        delimiter: ';',
      },
    ) as string[][];
    expect(companyRows[1]?.[0]).toBe('stripe.com');
  });

  it('keeps the first reasons of a file read in the background that has no usable domain', async () => {
    const rows = Array.from({ length: INLINE_MAX_ROWS * 4 }, (_, i) =>
      i % 2 ? `user${i}@gmail.com` : `n/a ${i}`,
    );
    const res = await uploadForm(t, [['file', csv(['email', ...rows], 'junk.csv')]]);
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as Job;
    expect(accepted.status).toBe('ingesting');
    const job = await settled(t, accepted.id);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('NO_VALID_DOMAINS');
    // The message summarizes the reasons with their counts.
    expect(job.error?.message).toMatch(/10 \w+, 10 \w+/);
    const rejected = (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/rejected`)).json()) as {
      data: { row_number: number; raw: string; reason: string; message: string }[];
    };
    expect(rejected.data.length).toBeGreaterThan(0);
    expect(rejected.data[0]).toMatchObject({ row_number: 1, raw: 'n/a 0' });
    expect(rejected.data.every((r) => r.reason && r.message)).toBe(true);
  });
});
