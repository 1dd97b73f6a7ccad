import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Db } from '../src/db/database';

/** For every job: the counters equal the per-status company counts, and they sum to total. */
export async function expectJobInvariants(db: Db): Promise<void> {
  const rows = await db.execute<{ id: string; ok: boolean; detail: string }>(sql`
    select j.id,
      (j.queued_count = coalesce(s.queued, 0) and j.processing_count = coalesce(s.processing, 0)
       and j.enriched_count = coalesce(s.enriched, 0) and j.not_found_count = coalesce(s.not_found, 0)
       and j.failed_count = coalesce(s.failed, 0) and j.cancelled_count = coalesce(s.cancelled, 0)
       and j.total = coalesce(s.total, 0)) as ok,
      row_to_json(s)::text || ' vs ' || row_to_json(j)::text as detail
    from jobs j left join (
      select job_id,
        count(*) filter (where status = 'queued') as queued,
        count(*) filter (where status = 'processing') as processing,
        count(*) filter (where status = 'enriched') as enriched,
        count(*) filter (where status = 'not_found') as not_found,
        count(*) filter (where status = 'failed') as failed,
        count(*) filter (where status = 'cancelled') as cancelled,
        count(*) as total
      from companies group by job_id
    ) s on s.job_id = j.id
  `);
  expect(rows.rows.filter((r) => !r.ok).map((r) => r.detail)).toEqual([]);
}
