/**
 * The company-level CSV export. Cells a spreadsheet would run as a formula are neutralized:
 * data from a provider or a user's file must never execute on the next person's machine.
 */
import { pipeline, Readable } from 'node:stream';
import type { Company } from '@gtm-enrich/contracts';
import { stringify } from 'csv-stringify';

export const EXPORT_COLUMNS = [
  'domain',
  'input',
  'row_number',
  'status',
  'business_id',
  'name',
  'industry',
  'company_size',
  'revenue_range',
  'country',
  'region',
  'city',
  'website',
  'linkedin_url',
  'description',
  'error_code',
  'error_message',
  'attempts',
  'enriched_at',
] as const;

const FORMULA_START = /^[=+\-@\t\r]/;

/** OWASP's advice for CSV injection: prefix a quote so the cell is read as text. */
export function neutralizeFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

function toRecord(c: Company): string[] {
  const values: Record<(typeof EXPORT_COLUMNS)[number], string | number | null> = {
    domain: c.domain,
    input: c.input,
    row_number: c.row_number,
    status: c.status,
    business_id: c.business_id,
    name: c.name,
    industry: c.industry,
    company_size: c.company_size,
    revenue_range: c.revenue_range,
    country: c.country,
    region: c.region,
    city: c.city,
    website: c.website,
    linkedin_url: c.linkedin_url,
    description: c.description,
    error_code: c.error?.code ?? null,
    error_message: c.error?.message ?? null,
    attempts: c.attempts,
    enriched_at: c.enriched_at,
  };
  return EXPORT_COLUMNS.map((k) => {
    const v = values[k];
    return v === null ? '' : typeof v === 'number' ? String(v) : neutralizeFormula(v);
  });
}

/** A byte stream of the CSV, pulling companies page by page as the client reads. */
export function companiesCsvStream(companies: AsyncIterable<Company>): Readable {
  const records = Readable.from(
    (async function* () {
      for await (const c of companies) yield toRecord(c);
    })(),
  );
  const csv = stringify({ header: true, columns: [...EXPORT_COLUMNS], bom: true });
  // pipeline, unlike pipe, destroys the output when the source fails, so the response ends with an error.
  pipeline(records, csv, () => undefined);
  return csv;
}
