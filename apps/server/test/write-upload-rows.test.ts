/**
 * The read of an upload into rows, companies and rejected rows (intake/job-rows.repository.ts:
 * writeUploadRows), written in chunks while the next is read: against a real PostgreSQL, with
 * files of several chunks whose domains repeat across chunk boundaries.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCopyTransaction } from '../src/db/copy';
import type { DatabaseHandle } from '../src/db/database';
import { inputCellOf, writeUploadRows } from '../src/intake/job-rows.repository';
import type { UploadRow } from '../src/intake/read-upload';
import type { SeenDomains } from '../src/intake/seen-domains';
import { insertIngestingJob } from '../src/intake/stored-upload.repository';
import { openMigratedTestDatabase } from './test-database';

const ORG = 'acme';
/** The domain column, then its fallback (as read-upload.ts gives them). */
const INPUT_COLUMNS = [1, 2];

/** Row i: a domain repeated every `distinct` rows (so across chunks), every 10th row rejected. */
function row(i: number, distinct: number): UploadRow {
  const rowNumber = i + 1;
  if (i % 10 === 9) {
    return {
      rowNumber,
      record: [`name ${i}`, ' ', `n/a ${i}`],
      domain: null,
      reason: 'empty',
      message: 'the cell is empty',
    };
  }
  const d = `company-${i % distinct}.com`;
  return {
    rowNumber,
    record: [`name ${i}`, `https://www.${d}/${i}`, ''],
    domain: d,
    reason: null,
    message: null,
  };
}

/** In batches of 300, as read-upload.ts gives them. */
async function* rows(n: number, distinct: number, failAt?: number): AsyncGenerator<UploadRow[]> {
  let batch: UploadRow[] = [];
  for (let i = 0; i < n; i++) {
    if (i === failAt) throw new Error('the file could not be read further');
    batch.push(row(i, distinct));
    if (batch.length === 300) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

describe('writeUploadRows', () => {
  let database: DatabaseHandle;
  let closeDb: () => Promise<void>;

  beforeAll(async () => {
    ({ database, close: closeDb } = await openMigratedTestDatabase(ORG));
  });
  afterAll(async () => {
    await closeDb?.();
  });

  const newJob = () =>
    insertIngestingJob(database.db, {
      orgId: ORG,
      provider: 'sandbox',
      providers: ['sandbox'],
      filename: 'x.csv',
      domainColumn: null,
      headerRow: null,
      inputDelimiter: ',',
      inputEncoding: 'utf-8',
    });

  async function read(
    n: number,
    distinct: number,
    opts: { failAt?: number; seen?: SeenDomains; jobId?: string } = {},
  ) {
    const job = opts.jobId ? { id: opts.jobId } : await newJob();
    const made = await createCopyTransaction(database.pool)((tx, _copy, _binary, copyText) =>
      writeUploadRows(
        tx,
        copyText,
        { orgId: ORG, jobId: job.id, inputColumns: INPUT_COLUMNS },
        rows(n, distinct, opts.failAt),
        opts.seen ? { seen: opts.seen } : {},
      ),
    );
    return { jobId: job.id, made };
  }

  async function companiesOf(jobId: string) {
    const r = await database.db.execute<{
      domain: string;
      row_number: number;
      input: string;
      org_id: string;
    }>(
      sql`select domain, row_number, input, org_id from companies where job_id = ${jobId} order by row_number`,
    );
    return r.rows;
  }

  /** What the file must give: the first row of each domain, every rejected row. */
  function expected(n: number, distinct: number) {
    const first = new Map<string, UploadRow>();
    const rejected: UploadRow[] = [];
    for (let i = 0; i < n; i++) {
      const r = row(i, distinct);
      if (r.domain === null) rejected.push(r);
      else if (!first.has(r.domain)) first.set(r.domain, r);
    }
    return {
      companies: [...first.values()].map((r) => ({
        domain: r.domain,
        row_number: r.rowNumber,
        input: r.record[1],
        org_id: ORG,
      })),
      rejected: rejected.map((r) => ({
        row_number: r.rowNumber,
        raw: `n/a ${r.rowNumber - 1}`,
        reason: 'empty',
      })),
    };
  }

  it('makes one company per domain, of its first row, and keeps the domain of every row and every rejected row', async () => {
    const n = 23_456;
    const distinct = 7_001;
    const { jobId, made } = await read(n, distinct);
    const want = expected(n, distinct);
    expect(made).toBe(want.companies.length);
    expect(await companiesOf(jobId)).toEqual(want.companies);
    const rejected = await database.db.execute(
      sql`select row_number, raw, reason from rejected_rows where job_id = ${jobId} order by row_number`,
    );
    expect(rejected.rows).toEqual(want.rejected);
    // Every row's domain, in order, with null for a rejected one: what the row export joins by.
    const kept = await database.db.execute<{ row_number: number; domain: string | null }>(sql`
      select (d.first_row + u.i - 1)::int as row_number, u.domain
      from job_row_domains d, unnest(d.domains) with ordinality as u(domain, i)
      where d.job_id = ${jobId} order by 1`);
    expect(kept.rows).toEqual(
      Array.from({ length: n }, (_, i) => ({ row_number: i + 1, domain: row(i, distinct).domain })),
    );
    const chunks = await database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from job_row_domains where job_id = ${jobId}`,
    );
    // 23,456 rows: more than one chunk, so the chunks are shown to follow each other.
    expect(chunks.rows[0]!.n).toBeGreaterThan(1);
  });

  it('gives the same companies when every domain is reported as maybe seen (a hash collision)', async () => {
    const n = 12_345;
    const distinct = 3_333;
    const alwaysMaybe: SeenDomains = { add: () => 'maybe' };
    const { jobId, made } = await read(n, distinct, { seen: alwaysMaybe });
    const want = expected(n, distinct);
    expect(made).toBe(want.companies.length);
    expect(await companiesOf(jobId)).toEqual(want.companies);
  });

  it('rolls everything back when the file fails after chunks were written, leaving the connection usable', async () => {
    const job = await newJob();
    await expect(read(20_000, 20_000, { failAt: 12_000, jobId: job.id })).rejects.toThrow(
      'could not be read further',
    );
    const left = await database.db.execute<{ rows: number; companies: number; rejected: number }>(sql`
      select (select count(*) from job_row_domains where job_id = ${job.id})::int as rows,
             (select count(*) from companies where job_id = ${job.id})::int as companies,
             (select count(*) from rejected_rows where job_id = ${job.id})::int as rejected
    `);
    expect(left.rows).toEqual([{ rows: 0, companies: 0, rejected: 0 }]);
    // The same job read again, whole, on a connection of the same pool.
    expect((await read(20_000, 20_000, { jobId: job.id })).made).toBe(18_000);
  });
});

describe('inputCellOf', () => {
  it('takes the first column that is not blank, else the domain column, cut to 2,048 characters', () => {
    expect(inputCellOf(['a', '  ', 'site.com'], [1, 2])).toBe('site.com');
    expect(inputCellOf(['a', 'x.com', 'site.com'], [1, 2])).toBe('x.com');
    expect(inputCellOf(['a', '  ', ''], [1, 2])).toBe('  ');
    expect(inputCellOf(['a'], [1, 2])).toBe('');
    // Characters as PostgreSQL's left() counts them: a pair of UTF-16 units is one.
    const long = '😀'.repeat(3_000);
    expect(inputCellOf([long], [0])).toBe('😀'.repeat(2_048));
  });
});
