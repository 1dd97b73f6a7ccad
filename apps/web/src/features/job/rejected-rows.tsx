'use client';

import type { Job } from '@gtm-enrich/contracts';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { LoadMoreButton } from '@/components/load-more-button';
import { ScrollRegion } from '@/components/scroll-region';
import { errorMessage } from '@/lib/api';
import { formatCount } from '@/lib/format';
import { rejectedRowsQuery } from './queries';

/** Rows of the file without a usable domain, loaded when the section is opened. */
export function RejectedRows({ job, orgId }: { job: Job; orgId: string }) {
  const [open, setOpen] = useState(false);
  const query = useInfiniteQuery({ ...rejectedRowsQuery(orgId, job.id), enabled: open });
  const rows = query.data?.pages.flatMap((page) => page.data) ?? [];
  const count = formatCount(job.rejected_rows);

  return (
    <details className="card disclosure" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        Rejected rows <span className="badge status-not_found">{count}</span>
        <span className="muted" style={{ fontWeight: 400 }}>
          rows without a usable domain
        </span>
      </summary>
      {query.isError ? (
        <div className="card__body">
          <div role="alert" className="alert alert--error">
            <div className="alert__body">{errorMessage(query.error)}</div>
          </div>
        </div>
      ) : query.isPending ? (
        <p className="card__body muted">Loading…</p>
      ) : (
        <>
          <ScrollRegion label="Rejected rows table">
            <table className="table">
              <caption>
                {count} {job.rejected_rows === 1 ? 'row' : 'rows'} of the file were not enriched. Row numbers
                count data rows, header excluded.
              </caption>
              <thead>
                <tr>
                  <th scope="col" className="col-num">
                    Row
                  </th>
                  <th scope="col">Value in the file</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.row_number}>
                    <th scope="row" className="col-num">
                      {r.row_number}
                    </th>
                    <td className="cell-domain">
                      {r.raw === '' ? <span className="faint">(empty)</span> : r.raw}
                    </td>
                    <td>
                      {r.message} <span className="mono faint">{r.reason}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollRegion>
          {query.hasNextPage ? (
            <div className="table-footer">
              <span>
                {formatCount(rows.length)} of {count} shown
              </span>
              <LoadMoreButton query={query} />
            </div>
          ) : null}
        </>
      )}
    </details>
  );
}
