'use client';

import type { Company, Job } from '@gtm-enrich/contracts';
import { useEffect, useId, useRef, useState } from 'react';
import { CompanyStatusBadge } from '@/components/status-badge';
import { COMPANY_STATUS_LABELS, formatDateTime, PROVIDER_LABELS } from '@/lib/format';
import { headquarters, safeHttpUrl } from './company-fields';

type Field = { label: string; value: string | null; href?: string | null; mono?: boolean };

/** Every field of a company, as a list a person reads and copies. */
export function companyFields(c: Company, provider: Job['provider']): Field[] {
  const when = (iso: string | null) => (iso ? formatDateTime(iso) : null);
  return [
    { label: 'Domain', value: c.domain, mono: true },
    { label: 'In the file', value: c.input, mono: true },
    { label: 'Row', value: String(c.row_number) },
    { label: 'Status', value: COMPANY_STATUS_LABELS[c.status] },
    { label: 'Reason', value: c.error ? `${c.error.message} (${c.error.code})` : null },
    { label: 'Name', value: c.name },
    { label: 'Industry', value: c.industry },
    { label: 'Company size', value: c.company_size },
    { label: 'Revenue range', value: c.revenue_range },
    { label: 'Headquarters', value: headquarters(c) },
    { label: 'City', value: c.city },
    { label: 'Region', value: c.region },
    { label: 'Country', value: c.country },
    { label: 'Website', value: c.website, href: safeHttpUrl(c.website) },
    { label: 'LinkedIn', value: c.linkedin_url, href: safeHttpUrl(c.linkedin_url) },
    { label: 'Description', value: c.description },
    { label: 'Email provider', value: c.signals?.email_provider ?? null },
    {
      label: 'Technologies',
      value: c.signals?.technologies.length ? c.signals.technologies.map((t) => t.name).join(', ') : null,
    },
    { label: 'Founded', value: c.signals?.founded_year ? String(c.signals.founded_year) : null },
    { label: 'Employees', value: c.signals?.employee_count ? String(c.signals.employee_count) : null },
    { label: 'Logo', value: c.signals?.logo_url ?? null, href: safeHttpUrl(c.signals?.logo_url ?? null) },
    { label: 'Business ID', value: c.business_id, mono: true },
    {
      label: 'Source',
      value:
        c.source === null
          ? null
          : c.source === 'cache'
            ? `${PROVIDER_LABELS[provider]}, from the enrichment cache`
            : PROVIDER_LABELS[provider],
    },
    { label: 'Fetched', value: when(c.fetched_at) },
    { label: 'Enriched', value: when(c.enriched_at) },
    { label: 'Last change', value: when(c.updated_at) },
    { label: 'Attempts', value: String(c.attempts) },
  ];
}

/** Field and value per line, tab-separated: pastes into a sheet as two columns. */
export function fieldsAsText(fields: Field[]): string {
  return fields.map((f) => `${f.label}\t${f.value ?? ''}`).join('\n');
}

/**
 * A company's detail panel: a modal dialog (focus stays inside, Escape closes, focus returns to
 * the domain that opened it), every field with where it came from and when, and copy buttons.
 */
export function CompanyDetails({
  company,
  provider,
  onClose,
}: {
  company: Company | null;
  provider: Job['provider'];
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

  const fields = company ? companyFields(company, provider) : [];
  return (
    <dialog ref={ref} className="details" aria-labelledby={titleId} onClose={onClose}>
      {company ? (
        <div className="details__body">
          <div className="details__header">
            <div>
              <h2 id={titleId} className="mono">
                {company.domain}
              </h2>
              <CompanyStatusBadge status={company.status} />
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
