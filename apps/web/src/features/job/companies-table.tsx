'use client';

import type { Company, CompanySort, CompanySortKey, CompanyStatus, Job } from '@gtm-enrich/contracts';
import { keepPreviousData, useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, type ReactNode, useEffect, useId, useMemo, useRef, useState } from 'react';
import { LoadMoreButton } from '@/components/load-more-button';
import { ScrollRegion } from '@/components/scroll-region';
import { CompanyStatusBadge } from '@/components/status-badge';
import { errorMessage } from '@/lib/api';
import { COMPANY_STATUS_LABELS, formatConfidence, formatCount } from '@/lib/format';
import { CompanyDetails } from './company-details';
import { displayHost, headquarters, safeHttpUrl, titleCase } from './company-fields';
import { type CompanyFilter, companiesChangesQuery, companiesQuery, isJobSettled, jobKeys } from './queries';

const SEARCH_DEBOUNCE_MS = 300;
/** Rows are about this tall; the virtualizer measures each one it renders. */
const ROW_HEIGHT_PX = 41;
/** Rows rendered above and below the visible ones, so a fast scroll does not show blanks. */
const OVERSCAN_ROWS = 12;
/** The next page is read when the last loaded row is this close to coming into view. */
const PREFETCH_ROWS = 40;
const COLUMNS_STORAGE_KEY = 'gtm-enrich.columns.v1';

/** The minimum match confidences offered, in whole percent (a provider's likelihood is in tenths). */
const CONFIDENCE_STEPS_PCT = [50, 70, 80, 90] as const;

const FILTERS: ReadonlyArray<CompanyStatus | null> = [
  null,
  'enriched',
  'not_found',
  'failed',
  'processing',
  'queued',
  'cancelled',
];

type ColumnKey =
  | 'row'
  | 'domain'
  | 'status'
  | 'name'
  | 'confidence'
  | 'industry'
  | 'size'
  | 'revenue'
  | 'hq'
  | 'website'
  | 'linkedin'
  | 'description';

type Column = {
  key: ColumnKey;
  label: string;
  /** Absent: the API cannot sort by it. */
  sort?: CompanySortKey;
  /** Width in px; the row number and domain columns take theirs from globals.css (narrower on phones). */
  width: number;
  /** Always shown: what identifies a row. */
  fixed?: boolean;
};

/**
 * A fixed layout: columns keep their width while rows change status under polling. The row
 * number and the domain stay pinned when the table scrolls sideways, and the status comes next,
 * so a phone shows it without scrolling.
 */
const COLUMNS: readonly Column[] = [
  { key: 'row', label: '#', sort: 'row_number', width: 48, fixed: true },
  { key: 'domain', label: 'Domain', sort: 'domain', width: 184, fixed: true },
  { key: 'status', label: 'Status', sort: 'status', width: 160 },
  { key: 'name', label: 'Name', sort: 'name', width: 170 },
  // Next to the name: how sure the provider is that this is the company asked for.
  { key: 'confidence', label: 'Confidence', sort: 'match_confidence', width: 104 },
  { key: 'industry', label: 'Industry', sort: 'industry', width: 180 },
  { key: 'size', label: 'Company size', sort: 'company_size', width: 120 },
  { key: 'revenue', label: 'Revenue range', sort: 'revenue_range', width: 130 },
  { key: 'hq', label: 'Headquarters', sort: 'headquarters', width: 200 },
  { key: 'website', label: 'Website', sort: 'website', width: 160 },
  { key: 'linkedin', label: 'LinkedIn', sort: 'linkedin_url', width: 96 },
  { key: 'description', label: 'Description', sort: 'description', width: 280 },
];

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** The hidden columns, remembered in this browser (not per job: a person's preference). */
function useHiddenColumns(): [Set<ColumnKey>, (key: ColumnKey, hidden: boolean) => void] {
  const [hidden, setHidden] = useState<Set<ColumnKey>>(() => new Set());
  useEffect(() => {
    try {
      const saved: unknown = JSON.parse(localStorage.getItem(COLUMNS_STORAGE_KEY) ?? '[]');
      if (Array.isArray(saved)) {
        setHidden(new Set(saved.filter((k): k is ColumnKey => COLUMNS.some((c) => c.key === k && !c.fixed))));
      }
    } catch {
      // Unreadable (private mode, a hand-edited value): every column is shown.
    }
  }, []);
  const toggle = (key: ColumnKey, hide: boolean) =>
    setHidden((current) => {
      const next = new Set(current);
      if (hide) next.add(key);
      else next.delete(key);
      try {
        localStorage.setItem(COLUMNS_STORAGE_KEY, JSON.stringify([...next]));
      } catch {
        // Not stored: the choice holds for this visit.
      }
      return next;
    });
  return [hidden, toggle];
}

export function CompaniesTable({ job, orgId }: { job: Job; orgId: string }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<CompanyStatus | null>(null);
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), SEARCH_DEBOUNCE_MS);
  const [sort, setSort] = useState<CompanySort>('row_number');
  const [minConfidencePct, setMinConfidencePct] = useState<number | null>(null);
  const filter: CompanyFilter = useMemo(
    () => ({ status, q, sort, minConfidence: minConfidencePct === null ? null : minConfidencePct / 100 }),
    [status, q, sort, minConfidencePct],
  );
  const settled = isJobSettled(job);
  const searchId = useId();
  const confidenceId = useId();
  const [hidden, toggleColumn] = useHiddenColumns();
  const columns = COLUMNS.filter((c) => !hidden.has(c.key));
  const [selected, setSelected] = useState<Company | null>(null);

  const query = useInfiniteQuery({
    ...companiesQuery(orgId, job.id, filter),
    placeholderData: keepPreviousData,
    // Loaded pages are kept fresh by the changes below, never read again wholesale by a poll.
    refetchOnWindowFocus: false,
  });
  // Rows in view that changed, merged into the loaded pages in place (see mergeChanges).
  const visibleRef = useRef<{ first: number; last: number } | null>(null);
  useQuery({
    ...companiesChangesQuery(
      queryClient,
      orgId,
      job.id,
      filter,
      !settled && query.isSuccess,
      () => visibleRef.current,
    ),
    refetchOnWindowFocus: false,
  });
  // The job's answer changed (a new object: unchanged polls keep the old one): follow the rows.
  const firstJob = useRef(job);
  useEffect(() => {
    if (job === firstJob.current || settled) return;
    void queryClient.refetchQueries({ queryKey: jobKeys.changes(orgId, job.id, filter), exact: true });
  }, [job, settled, queryClient, orgId, filter]);

  // One last read when the job settles, so every row shows its final status, in its final place.
  const wasSettled = useRef(settled);
  useEffect(() => {
    if (settled && !wasSettled.current) {
      void queryClient.invalidateQueries({ queryKey: jobKeys.companies(orgId, job.id) });
    }
    wasSettled.current = settled;
  }, [settled, queryClient, orgId, job.id]);

  const rows = useMemo(() => query.data?.pages.flatMap((page) => page.data) ?? [], [query.data]);
  // The job's counters say how many match a status, not a search or a confidence.
  const matching = q || minConfidencePct !== null ? null : status ? job.counts[status] : job.total;
  const sortKey = sort.replace(/^-/, '') as CompanySortKey;
  const descending = sort.startsWith('-');
  const sortLabel = COLUMNS.find((c) => c.sort === sortKey)?.label ?? '#';
  const caption =
    (sort === 'row_number'
      ? 'Companies in the order of the file'
      : `Companies by ${sortLabel.toLowerCase()}, ${descending ? 'descending' : 'ascending'}`) +
    `${status ? `, ${COMPANY_STATUS_LABELS[status].toLowerCase()} only` : ''}${q ? `, matching “${q}”` : ''}` +
    `${minConfidencePct !== null ? `, match confidence at least ${minConfidencePct} %` : ''}. ` +
    'Sorted on the server: every row of the job is in order. Select a domain for all of its fields.';

  const scrollRef = useRef<HTMLElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT_PX,
    overscan: OVERSCAN_ROWS,
    getItemKey: (index) => rows[index]?.id ?? index,
  });
  const items = virtualizer.getVirtualItems();
  const firstShown = rows[items[0]?.index ?? -1];
  const lastShown = rows[items[items.length - 1]?.index ?? -1];
  // Read by the changes poll, in file order: row numbers of the rows rendered (in view and overscan).
  visibleRef.current =
    firstShown && lastShown
      ? {
          first: Math.min(firstShown.row_number, lastShown.row_number),
          last: Math.max(firstShown.row_number, lastShown.row_number),
        }
      : null;
  const padTop = items[0]?.start ?? 0;
  const padBottom = Math.max(0, virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0));

  // Once the reader scrolls, the next page is read before they reach the end of the loaded rows.
  const lastIndex = items[items.length - 1]?.index ?? -1;
  const scrolled = (virtualizer.scrollOffset ?? 0) > 0;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = query;
  useEffect(() => {
    if (scrolled && hasNextPage && !isFetchingNextPage && lastIndex >= rows.length - PREFETCH_ROWS) {
      void fetchNextPage();
    }
  }, [scrolled, hasNextPage, isFetchingNextPage, fetchNextPage, lastIndex, rows.length]);

  function toggleSort(column: Column) {
    const key = column.sort;
    if (!key) return;
    setSort((current) => {
      if (key === 'row_number') return current === 'row_number' ? '-row_number' : 'row_number';
      if (current === key) return `-${key}` as CompanySort;
      if (current === `-${key}`) return 'row_number';
      return key;
    });
  }

  const header = (column: Column) => {
    if (!column.sort) {
      return (
        <th key={column.key} scope="col" className="col-num" title="Match confidence">
          {column.label}
        </th>
      );
    }
    const active = sortKey === column.sort;
    const next =
      column.sort === 'row_number'
        ? descending
          ? 'activate for file order'
          : 'activate to sort descending'
        : active && descending
          ? 'activate for file order'
          : active
            ? 'activate to sort descending'
            : 'activate to sort';
    return (
      <th
        key={column.key}
        scope="col"
        className={column.key === 'row' ? 'col-num pin-1' : column.key === 'domain' ? 'pin-2' : undefined}
        aria-sort={active ? (descending ? 'descending' : 'ascending') : undefined}
      >
        <button type="button" className="sort-button" onClick={() => toggleSort(column)}>
          {column.label}
          <span className="sort-indicator" aria-hidden="true">
            {active ? (descending ? '▼' : '▲') : '↕'}
          </span>
          <span className="visually-hidden">
            {active ? `, sorted ${descending ? 'descending' : 'ascending'}; ` : ', '}
            {next}
          </span>
        </button>
      </th>
    );
  };

  return (
    <section className="card" aria-labelledby="results-heading">
      <div className="card__header">
        <h2 id="results-heading">Results</h2>
        <div className="results-tools">
          <ColumnChooser hidden={hidden} onToggle={toggleColumn} />
          <div className="confidence-filter">
            <label htmlFor={confidenceId}>Match confidence</label>
            <select
              id={confidenceId}
              className="select"
              value={minConfidencePct ?? ''}
              onChange={(e) => setMinConfidencePct(e.target.value === '' ? null : Number(e.target.value))}
            >
              <option value="">Any</option>
              {CONFIDENCE_STEPS_PCT.map((pct) => (
                <option key={pct} value={pct}>
                  ≥ {pct} %
                </option>
              ))}
            </select>
          </div>
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
            ref={scrollRef}
            label="Results table"
            className={`table-scroll--rows${query.isPlaceholderData ? ' is-stale' : ''}`}
            busy={query.isFetching && query.isPlaceholderData}
          >
            <table
              className="table table--companies"
              style={{ minWidth: columns.reduce((sum, c) => sum + c.width, 0) }}
              aria-rowcount={matching === null ? -1 : matching + 1}
            >
              <caption className="visually-hidden">{caption}</caption>
              <colgroup>
                {columns.map((c) => (
                  <col
                    key={c.key}
                    className={`col--${c.key}`}
                    style={c.fixed ? undefined : { width: c.width }}
                  />
                ))}
              </colgroup>
              <thead>
                <tr aria-rowindex={1}>{columns.map(header)}</tr>
              </thead>
              <tbody>
                {query.isPending ? (
                  <SkeletonRows span={columns.length} />
                ) : (
                  <>
                    {padTop > 0 ? <Spacer height={padTop} span={columns.length} /> : null}
                    {items.map((item) => {
                      const company = rows[item.index];
                      if (!company) return null;
                      return (
                        <CompanyRow
                          key={item.key}
                          index={item.index}
                          measure={virtualizer.measureElement}
                          company={company}
                          hidden={hidden}
                          onOpen={setSelected}
                        />
                      );
                    })}
                    {padBottom > 0 ? <Spacer height={padBottom} span={columns.length} /> : null}
                  </>
                )}
              </tbody>
            </table>
            {!query.isPending && rows.length === 0 ? (
              <EmptyResults
                filtered={status !== null || q !== '' || minConfidencePct !== null}
                byConfidence={minConfidencePct !== null}
                finished={settled}
              />
            ) : null}
          </ScrollRegion>
          <div className="table-footer">
            <span aria-live="polite">
              {matching === null
                ? `${formatCount(rows.length)} loaded`
                : `${formatCount(rows.length)} of ${formatCount(matching)} loaded`}
            </span>
            <LoadMoreButton query={query} />
          </div>
        </>
      )}
      <CompanyDetails
        company={selected ? (rows.find((c) => c.id === selected.id) ?? selected) : null}
        providers={job.providers}
        onClose={() => setSelected(null)}
      />
    </section>
  );
}

function ColumnChooser({
  hidden,
  onToggle,
}: {
  hidden: Set<ColumnKey>;
  onToggle: (key: ColumnKey, hidden: boolean) => void;
}) {
  return (
    <details className="column-chooser">
      <summary className="button">
        Columns
        {hidden.size > 0 ? <span className="segmented__count">{COLUMNS.length - hidden.size}</span> : null}
      </summary>
      <fieldset className="column-chooser__list">
        <legend className="visually-hidden">Columns shown</legend>
        {COLUMNS.filter((c) => !c.fixed).map((c) => (
          <label key={c.key} className="checkbox">
            <input
              type="checkbox"
              checked={!hidden.has(c.key)}
              onChange={(e) => onToggle(c.key, !e.target.checked)}
            />
            {c.label}
          </label>
        ))}
      </fieldset>
    </details>
  );
}

function Spacer({ height, span }: { height: number; span: number }) {
  return (
    <tr className="spacer-row" style={{ height }}>
      <td colSpan={span} />
    </tr>
  );
}

/** Re-rendered only when its company object changes: a poll that changed one row renders one row. */
const CompanyRow = memo(function CompanyRow({
  company: c,
  index,
  measure,
  hidden,
  onOpen,
}: {
  company: Company;
  index: number;
  measure: (el: Element | null) => void;
  hidden: Set<ColumnKey>;
  onOpen: (c: Company) => void;
}) {
  const website = safeHttpUrl(c.website);
  const linkedin = safeHttpUrl(c.linkedin_url);
  const hq = headquarters(c);
  const industry = c.industry ? titleCase(c.industry) : null;
  const reason = c.status === 'failed' || c.status === 'not_found' ? (c.error?.message ?? null) : null;
  const cells: Record<ColumnKey, ReactNode> = {
    row: (
      <td key="row" className="col-num muted pin-1">
        {c.row_number}
      </td>
    ),
    domain: (
      <th key="domain" scope="row" className="cell-domain pin-2">
        <button
          type="button"
          className="link-button"
          onClick={() => onOpen(c)}
          aria-haspopup="dialog"
          title={c.input !== c.domain ? `In the file: ${c.input}` : 'Every field of this company'}
        >
          {c.domain}
        </button>
      </th>
    ),
    status: (
      <td key="status">
        <CompanyStatusBadge status={c.status} />
        {reason ? (
          <span className="cell-reason" title={reason}>
            {reason}
          </span>
        ) : null}
      </td>
    ),
    confidence: (
      <td key="confidence" className="col-num">
        {c.match_confidence === null ? <Missing /> : formatConfidence(c.match_confidence)}
      </td>
    ),
    name: (
      <td key="name" className="truncate" title={c.name ?? undefined}>
        {c.name ?? <Missing />}
      </td>
    ),
    industry: (
      <td key="industry" className="truncate" title={industry ?? undefined}>
        {industry ?? <Missing />}
      </td>
    ),
    size: (
      <td key="size" className="nowrap num">
        {c.company_size ?? <Missing />}
      </td>
    ),
    revenue: (
      <td key="revenue" className="nowrap num">
        {c.revenue_range ?? <Missing />}
      </td>
    ),
    hq: (
      <td key="hq" className="truncate" title={hq ?? undefined}>
        {hq ?? <Missing />}
      </td>
    ),
    website: (
      <td key="website" className="truncate">
        {website ? (
          <a href={website} target="_blank" rel="noopener noreferrer">
            {displayHost(website)}
          </a>
        ) : (
          <Missing />
        )}
      </td>
    ),
    linkedin: (
      <td key="linkedin" className="nowrap">
        {linkedin ? (
          <a href={linkedin} target="_blank" rel="noopener noreferrer">
            LinkedIn<span className="visually-hidden"> page of {c.name ?? c.domain}</span>
          </a>
        ) : (
          <Missing />
        )}
      </td>
    ),
    description: (
      <td key="description" className="truncate muted" title={c.description ?? undefined}>
        {c.description ?? <Missing />}
      </td>
    ),
  };
  return (
    <tr ref={measure} data-index={index} aria-rowindex={index + 2}>
      {COLUMNS.filter((col) => !hidden.has(col.key)).map((col) => cells[col.key])}
    </tr>
  );
});

function Missing() {
  return (
    <span className="faint">
      <span aria-hidden="true">—</span>
      <span className="visually-hidden">none</span>
    </span>
  );
}

function SkeletonRows({ span }: { span: number }) {
  return (
    <>
      {[0, 1, 2, 3, 4].map((i) => (
        <tr key={i}>
          <td colSpan={span}>
            {i === 0 ? <span className="visually-hidden">Loading companies…</span> : null}
            <div className="skeleton" style={{ height: 16 }} />
          </td>
        </tr>
      ))}
    </>
  );
}

function EmptyResults({
  filtered,
  byConfidence,
  finished,
}: {
  filtered: boolean;
  byConfidence: boolean;
  finished: boolean;
}) {
  return (
    <div className="empty">
      <p className="empty__title">{filtered ? 'No companies match' : 'No companies yet'}</p>
      <p>
        {byConfidence
          ? 'Companies without a match confidence (not every provider gives one) are left out. Try a lower confidence, another status or search term.'
          : filtered
            ? 'Try another status or search term.'
            : finished
              ? 'This job has no companies.'
              : 'Companies appear here as soon as the file has been read.'}
      </p>
    </div>
  );
}
