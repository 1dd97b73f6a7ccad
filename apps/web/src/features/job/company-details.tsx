'use client';

import {
  type Company,
  type EnrichedField,
  type FieldProvenance,
  type Job,
  provenanceOf,
} from '@gtm-enrich/contracts';
import { useEffect, useId, useRef, useState } from 'react';
import { CompanyStatusBadge } from '@/components/status-badge';
import { COMPANY_STATUS_LABELS, formatConfidence, formatDateTime, PROVIDER_LABELS } from '@/lib/format';
import { companySources, headquarters, provenanceText, safeHttpUrl } from './company-fields';

type Field = {
  label: string;
  value: string | null;
  href?: string | null;
  mono?: boolean;
  /** Where the value came from: shown under it, and copied after it. */
  provenance?: FieldProvenance;
};

/** Every field of a company, as a list a person reads and copies. */
export function companyFields(c: Company, providers: Job['providers']): Field[] {
  const when = (iso: string | null) => (iso ? formatDateTime(iso) : null);
  // A value without provenance (filled before fields carried it) is shown without a source line.
  const filled = (label: string, field: EnrichedField, value: string | null, href?: string | null): Field => {
    const provenance = value === null ? undefined : provenanceOf(c.provenance, field);
    return { label, value, ...(href === undefined ? {} : { href }), ...(provenance ? { provenance } : {}) };
  };
  const profiles = Object.entries(c.signals?.social_profiles ?? {});
  return [
    { label: 'Domain', value: c.domain, mono: true },
    { label: 'In the file', value: c.input, mono: true },
    { label: 'Row', value: String(c.row_number) },
    { label: 'Status', value: COMPANY_STATUS_LABELS[c.status] },
    { label: 'Reason', value: c.error ? `${c.error.message} (${c.error.code})` : null },
    {
      label: 'Match confidence',
      value: c.match_confidence === null ? null : formatConfidence(c.match_confidence),
    },
    filled('Name', 'name', c.name),
    filled('Industry', 'industry', c.industry),
    filled('Company size', 'company_size', c.company_size),
    filled('Revenue range', 'revenue_range', c.revenue_range),
    // Its parts have rows of their own, each with its source.
    { label: 'Headquarters', value: headquarters(c) },
    filled('City', 'city', c.city),
    filled('Region', 'region', c.region),
    filled('Country', 'country', c.country),
    filled('Website', 'website', c.website, safeHttpUrl(c.website)),
    filled('LinkedIn', 'linkedin_url', c.linkedin_url, safeHttpUrl(c.linkedin_url)),
    filled('Description', 'description', c.description),
    filled('Email provider', 'email_provider', c.signals?.email_provider ?? null),
    filled(
      'Technologies',
      'technologies',
      c.signals?.technologies.length ? c.signals.technologies.map((t) => t.name).join(', ') : null,
    ),
    filled('Founded', 'founded_year', c.signals?.founded_year ? String(c.signals.founded_year) : null),
    filled(
      'Employees',
      'employee_count',
      c.signals?.employee_count ? String(c.signals.employee_count) : null,
    ),
    filled('Logo', 'logo_url', c.signals?.logo_url ?? null, safeHttpUrl(c.signals?.logo_url ?? null)),
    filled(
      'Profiles',
      'social_profiles',
      profiles.length ? profiles.map(([network, url]) => `${network}: ${url}`).join('\n') : null,
    ),
    { label: 'Business ID', value: c.business_id, mono: true },
    { label: 'Source', value: companySources(c, providers) },
    { label: 'Fetched', value: when(c.fetched_at) },
    { label: 'Enriched', value: when(c.enriched_at) },
    { label: 'Last change', value: when(c.updated_at) },
    { label: 'Attempts', value: String(c.attempts) },
  ];
}

/**
 * Field, value and (when known) where it came from, per line, tab-separated: pastes into a sheet
 * as columns. A value's own line breaks become spaces so that it stays on its line.
 */
export function fieldsAsText(fields: Field[]): string {
  return fields
    .map((f) => {
      const cells = [f.label, (f.value ?? '').replace(/\s*\n\s*/g, ' ')];
      if (f.provenance) cells.push(provenanceText(f.provenance));
      return cells.join('\t');
    })
    .join('\n');
}

/**
 * A company's detail panel: a modal dialog (focus stays inside, Escape closes, focus returns to
 * the domain that opened it), every field with where it came from and when, and copy buttons.
 */
export function CompanyDetails({
  company,
  providers,
  onClose,
}: {
  company: Company | null;
  providers: Job['providers'];
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  // What was copied, for the company it was copied from (another company shows no stale notice).
  const [copiedFor, setCopiedFor] = useState<{ id: string; text: string } | null>(null);
  const copied = copiedFor && copiedFor.id === company?.id ? copiedFor.text : null;
  const setCopied = (text: string) => company && setCopiedFor({ id: company.id, text });

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (company && !dialog.open) dialog.showModal();
    if (!company && dialog.open) dialog.close();
  }, [company]);

  async function copy(what: string, text: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(`${what} copied`);
    } catch {
      setCopied('The browser did not allow copying: select the text instead.');
    }
  }

  const fields = company ? companyFields(company, providers) : [];
  return (
    <dialog ref={ref} className="details" aria-labelledby={titleId} onClose={onClose}>
      {company ? (
        <div className="details__body">
          <div className="details__header">
            <div>
              <h2 id={titleId} className="mono">
                {company.domain}
              </h2>
              <div className="details__summary">
                <CompanyStatusBadge status={company.status} />
                {company.match_confidence !== null ? (
                  <span className="muted">Match confidence {formatConfidence(company.match_confidence)}</span>
                ) : null}
              </div>
            </div>
            <div className="details__actions">
              <button
                type="button"
                className="button"
                onClick={() => copy('Every field', fieldsAsText(fields))}
              >
                Copy all
              </button>
              <button type="button" className="button" onClick={() => ref.current?.close()}>
                Close
              </button>
            </div>
          </div>
          <p className="visually-hidden" role="status">
            {copied ?? ''}
          </p>
          {copied ? (
            <p className="details__copied" aria-hidden="true">
              {copied}
            </p>
          ) : null}
          <dl className="details__fields">
            {fields.map((f) => (
              <div key={f.label} className="details__field">
                <dt>{f.label}</dt>
                <dd className="details__value">
                  <div>
                    <span className={f.mono ? 'mono' : undefined}>
                      {f.value === null ? (
                        <span className="faint">
                          <span aria-hidden="true">—</span>
                          <span className="visually-hidden">none</span>
                        </span>
                      ) : f.href ? (
                        <a href={f.href} target="_blank" rel="noopener noreferrer">
                          {f.value}
                        </a>
                      ) : (
                        f.value
                      )}
                    </span>
                    {f.provenance ? <Provenance of={f.provenance} /> : null}
                  </div>
                  {f.value !== null ? (
                    <button
                      type="button"
                      className="button button--small details__copy"
                      onClick={() => copy(f.label, f.value ?? '')}
                      aria-label={`Copy ${f.label.toLowerCase()}`}
                    >
                      Copy
                    </button>
                  ) : null}
                </dd>
              </div>
            ))}
          </dl>
        </div>
      ) : null}
    </dialog>
  );
}

/** Under a value: the provider that filled it, when, how sure it was, and whether it was reused. */
function Provenance({ of: p }: { of: FieldProvenance }) {
  return (
    <span className="details__provenance">
      <span className="visually-hidden">From </span>
      {PROVIDER_LABELS[p.provider]}
      <span aria-hidden="true"> · </span>
      <span className="visually-hidden">, fetched </span>
      <time dateTime={p.fetched_at}>{formatDateTime(p.fetched_at)}</time>
      {p.confidence !== null ? (
        <>
          <span aria-hidden="true"> · </span>
          <span className="visually-hidden">, </span>confidence {formatConfidence(p.confidence)}
        </>
      ) : null}
      {p.source === 'cache' ? (
        <>
          <span aria-hidden="true"> · </span>
          <span className="visually-hidden">, </span>
          <span title="Reused from an earlier enrichment by this provider">cache</span>
        </>
      ) : null}
    </span>
  );
}
