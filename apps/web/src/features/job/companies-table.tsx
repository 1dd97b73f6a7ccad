'use client';

import { type Company, type CompanyStatus, isJobFinished, type Job } from '@gtm-enrich/contracts';
import { keepPreviousData, useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { LoadMoreButton } from '@/components/load-more-button';
import { ScrollRegion } from '@/components/scroll-region';
import { CompanyStatusBadge } from '@/components/status-badge';
import { errorMessage } from '@/lib/api';
import { COMPANY_STATUS_LABELS, formatCount } from '@/lib/format';
import { bandLowerBound, displayHost, headquarters, safeHttpUrl, titleCase } from './company-fields';
import { type CompanyFilter, companiesQuery, jobKeys } from './queries';

const SEARCH_DEBOUNCE_MS = 300;
/**
 * A fixed layout: columns keep their width while rows change status under polling, and the
 * first two stay pinned when the table scrolls sideways (their offsets are in globals.css).
 */
const COLUMN_WIDTHS_PX = [48, 184, 150, 170, 180, 110, 120, 200, 150, 84, 280];
const TABLE_WIDTH_PX = COLUMN_WIDTHS_PX.reduce((a, b) => a + b, 0);

const FILTERS: ReadonlyArray<CompanyStatus | null> = [
  null,
  'enriched',
  'not_found',
  'failed',
  'processing',
  'queued',
];

type SortKey = 'row' | 'domain' | 'name' | 'status' | 'industry' | 'size' | 'revenue' | 'hq';
type Sort = { key: SortKey; dir: 'ascending' | 'descending' };

const STATUS_ORDER: Record<CompanyStatus, number> = {
  enriched: 0,
  not_found: 1,
  failed: 2,
  processing: 3,
  queued: 4,
  cancelled: 5,
};

const SORT_VALUE: Record<SortKey, (c: Company) => string | number | null> = {
  row: (c) => c.row_number,
  domain: (c) => c.domain,
  name: (c) => c.name?.toLowerCase() ?? null,
  status: (c) => STATUS_ORDER[c.status],
  industry: (c) => c.industry?.toLowerCase() ?? null,
  size: (c) => bandLowerBound(c.company_size),
  revenue: (c) => bandLowerBound(c.revenue_range),
  hq: (c) => headquarters(c)?.toLowerCase() ?? null,
};

/** Missing values sort last in both directions: they are the least interesting rows. */
function sortRows(rows: Company[], sort: Sort | null): Company[] {
  if (!sort) return rows;
  const value = SORT_VALUE[sort.key];
  const sign = sort.dir === 'ascending' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va === null || vb === null) return va === vb ? a.row_number - b.row_number : va === null ? 1 : -1;
    const cmp =
      typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    return cmp === 0 ? a.row_number - b.row_number : cmp * sign;
  });
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function CompaniesTable({ job, orgId }: { job: Job; orgId: string }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<CompanyStatus | null>(null);
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), SEARCH_DEBOUNCE_MS);
  const [sort, setSort] = useState<Sort | null>(null);
  const filter: CompanyFilter = useMemo(() => ({ status, q }), [status, q]);
  const finished = isJobFinished(job);
  const searchId = useId();

  const query = useInfiniteQuery({
    ...companiesQuery(orgId, job.id, filter, !finished),
    placeholderData: keepPreviousData,
  });

  // One last refresh when the job finishes, so the rows show their final status.
  const wasFinished = useRef(finished);
  useEffect(() => {
    if (finished && !wasFinished.current) {
      void queryClient.invalidateQueries({ queryKey: jobKeys.companies(orgId, job.id) });
    }
    wasFinished.current = finished;
  }, [finished, queryClient, orgId, job.id]);

  const loaded = useMemo(() => query.data?.pages.flatMap((page) => page.data) ?? [], [query.data]);
  const rows = useMemo(() => sortRows(loaded, sort), [loaded, sort]);
  const matching = q ? null : status ? job.counts[status] : job.total;
  const caption =
    `Companies in the order of the file${status ? `, ${COMPANY_STATUS_LABELS[status].toLowerCase()} only` : ''}` +
    `${q ? `, matching “${q}”` : ''}. Sorting by a column reorders the ${formatCount(loaded.length)} loaded ` +
    `${loaded.length === 1 ? 'row' : 'rows'} only; the export has every row.`;

  function toggleSort(key: SortKey) {
    setSort((current) =>
      current?.key !== key
        ? { key, dir: 'ascending' }
        : current.dir === 'ascending'
          ? { key, dir: 'descending' }
          : null,
    );
  }

  const header = (key: SortKey, label: string, className?: string) => {
    const active = sort?.key === key;
    return (
      <th scope="col" className={className} aria-sort={active ? sort.dir : undefined}>
        <button type="button" className="sort-button" onClick={() => toggleSort(key)}>
          {label}
          <span className="sort-indicator" aria-hidden="true">
            {active ? (sort.dir === 'ascending' ? '▲' : '▼') : '↕'}
          </span>
          <span className="visually-hidden">
            {active
              ? sort.dir === 'ascending'
                ? ', sorted ascending; activate to sort descending'
                : ', sorted descending; activate for file order'
              : ', activate to sort'}
          </span>
        </button>
      </th>
    );
  };

  return (
    <section className="card" aria-labelledby="results-heading">
      <div className="card__header">
        <h2 id="results-heading">Results</h2>
        <div className="search">
          <label htmlFor={searchId} className="visually-hidden">
            Search by domain or name
          </label>
          <svg
            className="search__icon"
            width="14"
            height="14"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            aria-hidden="true"
          >
            <circle cx="11" cy="11" r="7" strokeWidth="2" />
            <path d="m20 20-3.5-3.5" strokeWidth="2" strokeLinecap="round" />
          </svg>
          <input
            id={searchId}
            type="search"
            className="input"
            placeholder="Search domain or name"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            spellCheck={false}
            autoComplete="off"
          />
        </div>
      </div>
      <div className="card__header" style={{ paddingTop: 10, paddingBottom: 10 }}>
        <fieldset className="segmented" style={{ margin: 0 }}>
          <legend className="visually-hidden">Filter by status</legend>
          {FILTERS.map((value) => (
            <button
              key={value ?? 'all'}
              type="button"
              aria-pressed={status === value}
              onClick={() => setStatus(value)}
            >
              {value ? COMPANY_STATUS_LABELS[value] : 'All'}
              <span className="segmented__count">{formatCount(value ? job.counts[value] : job.total)}</span>
            </button>
          ))}
        </fieldset>
      </div>

      {query.isError && !query.data ? (
        <div className="card__body">
          <div role="alert" className="alert alert--error">
            <div className="alert__body">{errorMessage(query.error)}</div>
          </div>
        </div>
      ) : (
        <>
          <p className="table-note" aria-hidden="true">
            {caption}
          </p>
          <ScrollRegion
            label="Results table"
            className={query.isPlaceholderData ? 'is-stale' : undefined}
            busy={query.isFetching && query.isPlaceholderData}
          >
            <table className="table table--companies" style={{ minWidth: TABLE_WIDTH_PX }}>
              <caption className="visually-hidden">{caption}</caption>
              <colgroup>
                {COLUMN_WIDTHS_PX.map((width, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list of columns
                  <col key={i} style={{ width }} />
                ))}
              </colgroup>
              <thead>
                <tr>
                  {header('row', '#', 'col-num pin-1')}
                  {header('domain', 'Domain', 'pin-2')}
                  {header('name', 'Name')}
                  {header('status', 'Status')}
                  {header('industry', 'Industry')}
                  {header('size', 'Company size')}
                  {header('revenue', 'Revenue range')}
                  {header('hq', 'Headquarters')}
                  <th scope="col">Website</th>
                  <th scope="col">LinkedIn</th>
                  <th scope="col">Description</th>
                </tr>
              </thead>
              <tbody>
                {query.isPending ? <SkeletonRows /> : rows.map((c) => <CompanyRow key={c.id} company={c} />)}
              </tbody>
            </table>
            {!query.isPending && rows.length === 0 ? (
              <EmptyResults filtered={status !== null || q !== ''} finished={finished} />
            ) : null}
          </ScrollRegion>
          <div className="table-footer">
            <span aria-live="polite">
              {matching === null
                ? `${formatCount(loaded.length)} loaded`
                : `${formatCount(loaded.length)} of ${formatCount(matching)} loaded`}
            </span>
            <LoadMoreButton query={query} />
          </div>
        </>
      )}
    </section>
  );
}

function CompanyRow({ company: c }: { company: Company }) {
  const website = safeHttpUrl(c.website);
  const linkedin = safeHttpUrl(c.linkedin_url);
  const hq = headquarters(c);
  const industry = c.industry ? titleCase(c.industry) : null;
  const reason = c.status === 'failed' || c.status === 'not_found' ? (c.error?.message ?? null) : null;
  return (
    <tr>
      <td className="col-num faint pin-1">{c.row_number}</td>
      <th
        scope="row"
        className="cell-domain pin-2"
        title={c.input !== c.domain ? `In the file: ${c.input}` : undefined}
      >
        {c.domain}
      </th>
      <td className="truncate" title={c.name ?? undefined}>
        {c.name ?? <Missing />}
      </td>
      <td>
        <CompanyStatusBadge status={c.status} />
        {reason ? (
          <span className="cell-reason" title={reason}>
            {reason}
          </span>
        ) : null}
      </td>
      <td className="truncate" title={industry ?? undefined}>
        {industry ?? <Missing />}
      </td>
      <td className="nowrap num">{c.company_size ?? <Missing />}</td>
      <td className="nowrap num">{c.revenue_range ?? <Missing />}</td>
      <td className="truncate" title={hq ?? undefined}>
        {hq ?? <Missing />}
      </td>
      <td className="truncate">
        {website ? (
          <a href={website} target="_blank" rel="noopener noreferrer">
            {displayHost(website)}
          </a>
        ) : (
          <Missing />
        )}
      </td>
      <td className="nowrap">
        {linkedin ? (
          <a href={linkedin} target="_blank" rel="noopener noreferrer">
            LinkedIn<span className="visually-hidden"> page of {c.name ?? c.domain}</span>
          </a>
        ) : (
          <Missing />
        )}
      </td>
      <td className="truncate muted" title={c.description ?? undefined}>
        {c.description ?? <Missing />}
      </td>
    </tr>
  );
}

function Missing() {
  return (
    <span className="faint">
      <span aria-hidden="true">—</span>
      <span className="visually-hidden">none</span>
    </span>
  );
}

function SkeletonRows() {
  return (
    <>
      {[0, 1, 2, 3, 4].map((i) => (
        <tr key={i}>
          <td colSpan={COLUMN_WIDTHS_PX.length}>
            {i === 0 ? <span className="visually-hidden">Loading companies…</span> : null}
            <div className="skeleton" style={{ height: 16 }} />
          </td>
        </tr>
      ))}
    </>
  );
}

function EmptyResults({ filtered, finished }: { filtered: boolean; finished: boolean }) {
  return (
    <div className="empty">
      <p className="empty__title">{filtered ? 'No companies match' : 'No companies yet'}</p>
      <p>
        {filtered
          ? 'Try another status or search term.'
          : finished
            ? 'This job has no companies.'
            : 'Companies appear here as soon as the file has been read.'}
      </p>
    </div>
  );
}
