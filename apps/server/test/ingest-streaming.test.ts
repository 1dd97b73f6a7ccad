/**
 * The streaming upload path over real HTTP and a real PostgreSQL: the file is checked and stored in
 * the upload's transaction, then its rows are COPYed and deduplicated in SQL (before the answer for a
 * small file, by a worker after it for a large one), so an aborted or refused upload leaves nothing
 * behind; every row keeps its link to its company; the row-level export gives the user's file back.
 */
import type { Job } from '@gtm-enrich/contracts';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROW_EXPORT_COLUMNS } from '../src/jobs/export-csv';
import {
  apiFetch,
  bearer,
  queueKinds,
  startTestSystem,
  TEST_ORG_ID,
  type TestSystem,
  upload,
} from './test-system';

const MAX_ROWS = 20_000;
const MAX_UPLOAD_BYTES = 1_000_000;

async function tableCounts(t: TestSystem): Promise<Record<string, number>> {
  const r = await t.system.database.pool.query<Record<string, number>>(`
    select (select count(*)::int from jobs) as jobs,
           (select count(*)::int from job_row_domains) as job_row_domains,
           (select count(*)::int from companies) as companies,
           (select count(*)::int from rejected_rows) as rejected_rows,
           (select count(*)::int from upload_chunks) as upload_chunks`);
  return r.rows[0]!;
}

/** Stored chunks of one job's file. */
async function chunksOf(t: TestSystem, jobId: string): Promise<number> {
  const r = await t.system.database.pool.query<{ n: number }>(
    'select count(*)::int as n from upload_chunks where job_id = $1',
    [jobId],
  );
  return r.rows[0]!.n;
}

/** Sessions of the test database other than this one that are inside a transaction. */
async function openTransactions(t: TestSystem): Promise<number> {
  const r = await t.system.database.pool.query<{ n: number }>(`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null`);
  return r.rows[0]!.n;
}

async function waitForJob(t: TestSystem, id: string): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(
      async () => {
        job = (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}`)).json()) as Job;
        return job.status;
      },
      { timeout: 20_000, interval: 100 },
    )
    .toBe('completed');
  return job!;
}

async function exportRows(t: TestSystem, id: string): Promise<{ bytes: Buffer; rows: string[][] }> {
  const res = await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}/export.csv?layout=rows`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/csv');
  expect(res.headers.get('content-disposition')).toMatch(/-rows-enriched\.csv"$/);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { bytes, rows: parse(bytes, { bom: true, relax_column_count: true }) as string[][] };
}

describe('streaming upload', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({
      env: { MAX_ROWS: String(MAX_ROWS), MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) },
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('maps every spelling of a domain to one company and links every row to it', async () => {
    const lines = [
      'name,website',
      'Stripe,https://www.Stripe.com/pricing',
      'Notion,notion.so',
      'Bob,mailto:bob@STRIPE.COM/',
      'Blog,blog.stripe.com',
      'Nobody,',
      'Stripe again,stripe.com.',
      'Home,http://192.168.0.1',
      'Notion again,WWW.NOTION.SO',
    ];
    const res = await upload(t.baseUrl, new File([lines.join('\r\n')], 'dupes.csv'));
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;
    expect(job).toMatchObject({ total: 2, input_rows: 8, rejected_rows: 2 });

    const links = await t.system.database.pool.query<{ row_number: number; domain: string; company: string }>(
      `select (d.first_row + u.i - 1)::int as row_number, c.domain, c.id as company
       from job_row_domains d, unnest(d.domains) with ordinality as u(domain, i)
       join companies c on c.domain = u.domain
       where d.job_id = $1 and c.job_id = d.job_id order by 1`,
      [job.id],
    );
    const byDomain = new Map<string, Set<string>>();
    for (const l of links.rows) byDomain.set(l.domain, (byDomain.get(l.domain) ?? new Set()).add(l.company));
    expect(links.rows.map((l) => [l.row_number, l.domain])).toEqual([
      [1, 'stripe.com'],
      [2, 'notion.so'],
      [3, 'stripe.com'],
      [4, 'stripe.com'],
      [6, 'stripe.com'],
      [8, 'notion.so'],
    ]);
    expect([...byDomain.values()].map((ids) => ids.size)).toEqual([1, 1]);
    // A company's input and row number are its first row's.
    const companies = await t.system.database.pool.query(
      'select domain, input, row_number from companies where job_id = $1 order by row_number',
      [job.id],
    );
    expect(companies.rows).toEqual([
      { domain: 'stripe.com', input: 'https://www.Stripe.com/pricing', row_number: 1 },
      { domain: 'notion.so', input: 'notion.so', row_number: 2 },
    ]);
    const rejected = (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/rejected`)).json()) as {
      data: { row_number: number; raw: string; reason: string }[];
    };
    expect(rejected.data.map((r) => [r.row_number, r.raw, r.reason])).toEqual([
      [5, '', 'empty'],
      [7, 'http://192.168.0.1', 'ip_address'],
    ]);

    await waitForJob(t, job.id);
    const { rows } = await exportRows(t, job.id);
    const domainAt = rows[0]!.indexOf('enriched_domain');
    expect(rows.slice(1).map((r) => r[domainAt])).toEqual([
      'stripe.com',
      'notion.so',
      'stripe.com',
      'stripe.com',
      '',
      'stripe.com',
      '',
      'notion.so',
    ]);
  });

  it('gives the original file back row for row, odd columns and all, with formulas neutralized', async () => {
    const header = ['Company', 'Domain', 'Notes, with comma', '', 'Owner "quoted"'];
    const records = [
      ['Acme', 'acme.com', 'line one\nline two', '', 'ann'],
      ['Formula', 'formula.io', "=cmd|' /C calc'!A0", '+1', '@SUM(A1)'],
      ['Short', 'short.dev'],
      ['Long', 'long.dev', 'a', 'b', 'c', 'extra 1', '-2'],
      ['Rejected', 'gmail.com', '', '', '\ttabbed'],
      ['CRLF', 'crlf.org', 'x\r\ny', ';', '"'],
    ];
    const quote = (cell: string) => (/[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
    const text = [header, ...records].map((r) => r.map(quote).join(',')).join('\r\n');
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    const res = await upload(t.baseUrl, new File([bytes], 'odd.csv'));
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;
    expect(job).toMatchObject({ total: 5, input_rows: 6, rejected_rows: 1 });
    await waitForJob(t, job.id);

    const exported = await exportRows(t, job.id);
    expect([...exported.bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const [outHeader, ...outRows] = exported.rows;
    // The header is the file's own, padded to its widest row, then the enrichment columns.
    expect(outHeader).toEqual([...header, '', '', ...ROW_EXPORT_COLUMNS]);
    expect(outRows).toHaveLength(records.length);
    const width = header.length + 2;
    const neutral = (cell: string) => (/^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell);
    for (const [i, record] of records.entries()) {
      const own = [...record, ...Array<string>(width - record.length).fill('')].map(neutral);
      expect(outRows[i]!.slice(0, width)).toEqual(own);
      expect(outRows[i]).toHaveLength(width + ROW_EXPORT_COLUMNS.length);
    }
    expect(outRows[1]!.slice(2, 5)).toEqual(["'=cmd|' /C calc'!A0", "'+1", "'@SUM(A1)"]);
    const col = (name: string) =>
      width + ROW_EXPORT_COLUMNS.indexOf(name as (typeof ROW_EXPORT_COLUMNS)[number]);
    expect(outRows[0]![col('enriched_status')]).toBe('enriched');
    expect(outRows[0]![col('enriched_domain')]).toBe('acme.com');
    expect(outRows[0]![col('enriched_name')]).not.toBe('');
    expect(outRows[4]![col('enriched_status')]).toBe('rejected');
    expect(outRows[4]![col('enriched_error_code')]).toBe('personal_email_provider');
    expect(outRows[4]![col('enriched_error_message')]).not.toBe('');

    // The company-level export is still the default.
    const companies = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv`);
    const companyRows = parse(await companies.text(), { bom: true }) as string[][];
    expect(companyRows[0]![0]).toBe('domain');
    expect(companyRows).toHaveLength(6);
  });

  it('lets go of the stored file and its connection when a row export is left half-read', async () => {
    const rows = Array.from({ length: 19_000 }, (_, i) => `left-${i}.com,a note for row ${i}`);
    // Left waiting (start=false), so that no enrichment holds connections meanwhile.
    const res = await upload(t.baseUrl, new File([['domain,note', ...rows].join('\n')], 'left.csv'), {
      org_id: TEST_ORG_ID,
      start: 'false',
    });
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;
    expect(job.status).toBe('paused');
    const { pool } = t.system.database;
    const fileReads = async () =>
      (
        await pool.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where query like 'copy (select data from upload_chunks where job_id = ''' || $1 || '''%'
             and pid <> pg_backend_pid()`,
          [job.id],
        )
      ).rows[0]!.n;

    const controller = new AbortController();
    const half = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/export.csv?layout=rows`, {
      signal: controller.signal,
    });
    expect(half.status).toBe(200);
    const reader = half.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    controller.abort();
    await reader.cancel().catch(() => undefined);

    // The export's read of the file stops: its COPY is not left running, nor its connection held.
    await expect.poll(fileReads, { timeout: 10_000 }).toBe(0);
    await expect.poll(() => pool.totalCount - pool.idleCount, { timeout: 10_000 }).toBe(0);
    const whole = await exportRows(t, job.id);
    expect(whole.rows).toHaveLength(rows.length + 1);
    expect(whole.rows[19_000]!.slice(0, 2)).toEqual(['left-18999.com', 'a note for row 18999']);
  });

  it('exports a job read before files were kept from its job_rows, as it exported then', async () => {
    const records = [
      ['Acme', 'https://www.acme-legacy.com/'],
      ['Gmail', 'jane@gmail.com'],
      ['Again', 'ACME-LEGACY.COM'],
      ['Notes', 'notes-legacy.io', 'with "quotes", commas\nand a line break'],
    ];
    const quote = (cell: string) => (/[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
    const text = [['Company', 'Website'], ...records].map((r) => r.map(quote).join(',')).join('\n');
    const res = await upload(t.baseUrl, new File([text], 'legacy.csv'));
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;
    await waitForJob(t, job.id);
    const fromFile = await exportRows(t, job.id);
    expect(fromFile.rows).toHaveLength(records.length + 1);

    // The layout of a job read by the release before: every row in job_rows, the file's bytes
    // and job_row_domains gone.
    const { pool } = t.system.database;
    await pool.query(
      `insert into job_rows (job_id, row_number, record, domain, reason, message)
       select $1, d.first_row + u.i - 1, ($2::jsonb ->> (d.first_row + u.i - 2)::int)::text[], u.domain,
              r.reason, r.message
       from job_row_domains d cross join unnest(d.domains) with ordinality as u(domain, i)
       left join rejected_rows r on r.job_id = $1 and r.row_number = d.first_row + u.i - 1
       where d.job_id = $1`,
      [
        job.id,
        JSON.stringify(records.map((r) => `{${r.map((c) => `"${c.replace(/["\\]/g, '\\$&')}"`).join(',')}}`)),
      ],
    );
    await pool.query('delete from upload_chunks where job_id = $1', [job.id]);
    await pool.query('delete from job_row_domains where job_id = $1', [job.id]);
    expect(await chunksOf(t, job.id)).toBe(0);

    const fromJobRows = await exportRows(t, job.id);
    expect(fromJobRows.rows).toEqual(fromFile.rows);
    expect(fromJobRows.bytes.equals(fromFile.bytes)).toBe(true);
  });

  it('leaves nothing behind when the client aborts mid-upload', async () => {
    const before = await tableCounts(t);
    const boundary = 'gtm-abort-test';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\ndomain\r\n`;
    const rows = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => `company-${from + i}.com\r\n`).join('');
    const abort = new AbortController();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode(head));
        if (sent < 8) {
          controller.enqueue(new TextEncoder().encode(rows(sent * 1_000, 1_000)));
          sent++;
          return;
        }
        // Enough rows are in for the COPY to be running: wait for it, then go away mid-body.
        await expect
          .poll(async () => {
            const r = await t.system.database.pool.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'copy%'`,
            );
            return r.rows[0]!.n;
          })
          .toBe(1);
        abort.abort();
      },
    });
    const request = fetch(`${t.baseUrl}/api/v1/uploads`, {
      method: 'POST',
      body,
      duplex: 'half',
      signal: abort.signal,
      headers: { ...bearer(t.key), 'content-type': `multipart/form-data; boundary=${boundary}` },
    } as RequestInit);
    await expect(request).rejects.toThrow();
    await expect.poll(() => openTransactions(t), { timeout: 10_000 }).toBe(0);
    expect(await tableCounts(t)).toEqual(before);
  });

  it('refuses too many rows and too many bytes with a 413 naming the limit, and keeps nothing', async () => {
    const before = await tableCounts(t);
    const tooManyRows = ['domain', ...Array.from({ length: MAX_ROWS + 1 }, (_, i) => `r${i}.com`)];
    const rowsRes = await upload(t.baseUrl, new File([tooManyRows.join('\n')], 'rows.csv'));
    expect(rowsRes.status).toBe(413);
    expect(((await rowsRes.json()) as { error: { message: string } }).error.message).toContain('20,000');

    const long = `${'x'.repeat(90)}.com`;
    const tooManyBytes = ['domain', ...Array.from({ length: 12_000 }, (_, i) => `${i}${long}`)];
    const bytesRes = await upload(t.baseUrl, new File([tooManyBytes.join('\n')], 'bytes.csv'));
    expect(bytesRes.status).toBe(413);
    expect(((await bytesRes.json()) as { error: { message: string } }).error.message).toContain(
      String(MAX_UPLOAD_BYTES),
    );

    await expect.poll(() => openTransactions(t), { timeout: 10_000 }).toBe(0);
    expect(await tableCounts(t)).toEqual(before);
  });

  it('reads Excel and UTF-16 exports, and refuses a bad byte deep in the file naming its line, keeping nothing', async () => {
    const lines = ['Name;Website', 'Stripe;https://www.Stripe.com/pricing', 'Acme;acme.io', 'Café;café.fr'];
    const excel = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${lines.join('\r\n')}\r\n`)]);
    const utf16 = Buffer.from(`\ufeff${lines.join('\r\n')}\r\n`, 'utf16le');
    for (const [name, bytes] of [
      ['excel.csv', excel],
      ['utf16.csv', utf16],
    ] as const) {
      const res = await upload(t.baseUrl, new File([bytes], name));
      expect(res.status, name).toBe(202);
      const job = (await res.json()) as Job;
      expect(job, name).toMatchObject({ status: 'queued', total: 3, input_rows: 3, rejected_rows: 0 });
      const { rows } = await exportRows(t, job.id);
      expect(rows.map((r) => [r[0], r[2]])).toEqual([
        ['Name', 'enriched_domain'],
        ['Stripe', 'stripe.com'],
        ['Acme', 'acme.io'],
        ['Café', 'xn--caf-dma.fr'],
      ]);
    }

    // Past the first 64 KB, which the header is read from: only the check of the whole file sees it.
    const before = await tableCounts(t);
    const body = Array.from({ length: 5_000 }, (_, i) => `deep-${i}.com,Co ${i}`);
    const bad = Buffer.concat([
      Buffer.from(['domain,name', ...body].join('\n')),
      Buffer.from('\nlatin1-caf'),
      Buffer.from([0xe9]),
      Buffer.from('.com,x\n'),
    ]);
    const res = await upload(t.baseUrl, new File([bad], 'latin1.csv'));
    expect(res.status).toBe(415);
    const { error } = (await res.json()) as { error: { code: string; details: { line: number } } };
    expect(error.code).toBe('UNSUPPORTED_ENCODING');
    expect(error.details.line).toBe(5_002);
    expect(await tableCounts(t)).toEqual(before);
  });

  it('reads a UTF-16 file longer than the bytes the header is sniffed from', async () => {
    const rows = Array.from({ length: 4_000 }, (_, i) => `Café ${i};café-${i}.fr`);
    const bytes = Buffer.from(`\ufeffName;Website\r\n${rows.join('\r\n')}\r\n`, 'utf16le');
    expect(bytes.length).toBeGreaterThan(64 * 1024);
    const res = await upload(t.baseUrl, new File([bytes], 'utf16-long.csv'));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ total: 4_000, input_rows: 4_000, rejected_rows: 0 });
  });

  it('reads a first row longer than the bytes the header is sniffed from', async () => {
    const long = 'x'.repeat(150 * 1024);
    const body = `domain,notes\nfirst.com,${long}\nsecond.com,"${long}\n${long}"\nthird.com,short\n`;
    const res = await upload(t.baseUrl, new File([body], 'long-cells.csv'));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ total: 3, input_rows: 3, rejected_rows: 0 });
  });

  it('reads fields sent after the file within the same upload', async () => {
    const form = new FormData();
    form.append('file', new File(['domain\nfields-after.com\n'], 'late.csv'));
    form.append('max_credits', '7');
    const res = await apiFetch(`${t.baseUrl}/api/v1/uploads`, { method: 'POST', body: form });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { max_credits: number | null }).max_credits).toBe(7);
  });

  it('never answers random bytes or random CSV shapes with a 5xx', async () => {
    const cell = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('stripe.com', 'https://www.notion.so/x', 'bob@gmail.com', '=1+1', '"', '', '\r\n', ';'),
    );
    const csvShape = fc
      .array(fc.array(cell, { minLength: 1, maxLength: 5 }), { minLength: 0, maxLength: 8 })
      .chain((rows) =>
        fc.constantFrom(',', ';', '\t', '|').map((d) => ['domain', ...rows.map((r) => r.join(d))].join('\n')),
      )
      .map((text) => new TextEncoder().encode(text));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 600 }), csvShape), async (bytes) => {
        const res = await upload(t.baseUrl, new File([bytes], 'random.csv'));
        await res.arrayBuffer();
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
    await expect.poll(() => openTransactions(t), { timeout: 10_000 }).toBe(0);
  });
});

describe.each(queueKinds())('uploads read in the background (%s queue)', (queue) => {
  const INLINE_MAX_ROWS = 50;
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ queue, env: { UPLOAD_INLINE_MAX_ROWS: String(INLINE_MAX_ROWS) } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const getJob = async (sys: TestSystem, id: string) =>
    (await (await apiFetch(`${sys.baseUrl}/api/v1/jobs/${id}`)).json()) as Job;

  it('answers a large file once it is stored, then reads it into the same job a small file makes', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => `Co ${i},https://www.bg-${i % 240}.com/about`);
    rows.push('Nobody,gmail.com', 'Blank,');
    const res = await upload(t.baseUrl, new File([['name,website', ...rows].join('\n')], 'big.csv'));
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as Job;
    expect(accepted).toMatchObject({ status: 'ingesting', input_rows: 302, total: 0, estimate: null });
    expect(res.headers.get('location')).toBe(`/api/v1/jobs/${accepted.id}`);

    const done = await waitForJob(t, accepted.id);
    expect(done).toMatchObject({ total: 240, input_rows: 302, rejected_rows: 2 });
    expect(done.estimate).toMatchObject({ cache_hits: 0 });
    expect(done.estimate!.provider_calls).toBeGreaterThan(0);
    expect(done.counts.enriched + done.counts.not_found).toBe(240);
    const rejected = (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${accepted.id}/rejected`)).json()) as {
      data: { row_number: number; reason: string }[];
    };
    expect(rejected.data.map((r) => [r.row_number, r.reason])).toEqual([
      [301, 'personal_email_provider'],
      [302, 'empty'],
    ]);
    // The file stays after its read: the row export reads its rows from it.
    expect(await chunksOf(t, accepted.id)).toBeGreaterThan(0);
    const { rows: exported } = await exportRows(t, accepted.id);
    expect(exported).toHaveLength(303);
  });

  it('reads a file stored in several chunks back in order', async () => {
    // ~1.4 MB: more than one stored chunk and many read slices, with quoted line breaks across them.
    const rows = Array.from({ length: 30_000 }, (_, i) => `chunked-${i}.com,"note ${i}, line one\nline two"`);
    const body = ['domain,note', ...rows].join('\r\n');
    expect(body.length).toBeGreaterThan(1024 * 1024); // stored chunks are 1 MB
    const res = await upload(t.baseUrl, new File([body], 'chunked.csv'));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as Job;
    await expect.poll(async () => (await getJob(t, id)).status, { timeout: 20_000 }).not.toBe('ingesting');
    expect(await getJob(t, id)).toMatchObject({ input_rows: 30_000, total: 30_000, rejected_rows: 0 });
    const { rows: exported } = await exportRows(t, id);
    expect(exported).toHaveLength(30_001);
    for (const i of [0, 1, 14_999, 29_999]) {
      expect(exported[i + 1]!.slice(0, 3)).toEqual([
        `chunked-${i}.com`,
        `note ${i}, line one\nline two`,
        `chunked-${i}.com`,
      ]);
    }
  });

  it('fails a large file in which no row holds a usable domain, saying why, and keeps no bytes', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => `user${i}@gmail.com`);
    const res = await upload(t.baseUrl, new File([['email', ...rows].join('\n')], 'personal.csv'));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as Job;
    await expect.poll(async () => (await getJob(t, id)).status, { timeout: 10_000 }).toBe('failed');
    const failed = await getJob(t, id);
    expect(failed.error).toMatchObject({ code: 'NO_VALID_DOMAINS' });
    expect(failed.error!.message).toContain('None of the 120 rows');
    expect(failed.finished_at).not.toBeNull();
    expect(await chunksOf(t, id)).toBe(0);
  });

  it('refuses a small file in which no row holds a usable domain with a 422, keeping nothing', async () => {
    const before = await tableCounts(t);
    const res = await upload(t.baseUrl, new File(['email\nann@gmail.com\nbob@yahoo.com\n'], 'few.csv'));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NO_VALID_DOMAINS');
    expect(await tableCounts(t)).toEqual(before);
  });

  // On BullMQ the task outlives the API (and this system's worker would take it at once).
  it.runIf(queue === 'in-process')(
    'reads an upload whose reader went away: a worker started later finds it in the database',
    async () => {
      // An API without a worker stores the upload; its in-process queue, and the task in it, die with it.
      const api = await startTestSystem({
        queue,
        shareWith: t,
        roles: { api: true, worker: false },
        env: { UPLOAD_INLINE_MAX_ROWS: String(INLINE_MAX_ROWS) },
      });
      let id: string;
      try {
        const rows = Array.from({ length: 80 }, (_, i) => `orphan-${i}.com`);
        const res = await upload(api.baseUrl, new File([['domain', ...rows].join('\n')], 'orphan.csv'));
        expect(res.status).toBe(202);
        id = ((await res.json()) as Job).id;
      } finally {
        await api.stop();
      }
      expect((await getJob(t, id)).status).toBe('ingesting');
      const worker = await startTestSystem({
        queue,
        shareWith: t,
        roles: { api: false, worker: true },
        env: { UPLOAD_INLINE_MAX_ROWS: String(INLINE_MAX_ROWS) },
      });
      try {
        const done = await waitForJob(t, id);
        expect(done).toMatchObject({ total: 80, input_rows: 80 });
      } finally {
        await worker.stop();
      }
    },
  );
});
