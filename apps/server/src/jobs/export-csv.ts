/**
 * The company-level CSV export. Cells a spreadsheet would run as a formula are neutralized:
 * data from a provider or a user's file must never execute on the next person's machine.
 */
import { pipeline, Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { type Company, ENRICHED_FIELDS, FIRMOGRAPHIC_FIELDS, provenanceOf } from '@gtm-enrich/contracts';
import { stringify } from 'csv-stringify';

export const EXPORT_COLUMNS = [
  'domain',
  'input',
  'row_number',
  'status',
  'business_id',
  'match_confidence',
  ...FIRMOGRAPHIC_FIELDS,
  'email_provider',
  'technologies',
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

/** The tools a company uses, in one cell: "WordPress; Google Analytics; HubSpot". */
function technologiesCell(c: Company): string | null {
  const names = c.signals?.technologies.map((t) => t.name) ?? [];
  return names.length > 0 ? names.join('; ') : null;
}

function toRecord(c: Company): string[] {
  const values: Record<(typeof EXPORT_COLUMNS)[number], string | number | null> = {
    domain: c.domain,
    input: c.input,
    row_number: c.row_number,
    status: c.status,
    business_id: c.business_id,
    match_confidence: c.match_confidence,
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
    email_provider: c.signals?.email_provider ?? null,
    technologies: technologiesCell(c),
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

/** `<field>_provider` and `<field>_fetched_at` for every enriched field (`?provenance=1`). */
export const PROVENANCE_COLUMNS = ENRICHED_FIELDS.flatMap((f) => [`${f}_provider`, `${f}_fetched_at`]);

function provenanceCells(c: Company | null): (string | null)[] {
  return ENRICHED_FIELDS.flatMap((f) => {
    const p = c ? provenanceOf(c.provenance, f) : undefined;
    return [p?.provider ?? null, p?.fetched_at ?? null];
  });
}

/** What an export carries besides the fixed columns. */
export type ExportColumns = { provenance: boolean };

/**
 * How an export is written: comma-separated UTF-8 with a BOM (what spreadsheets open everywhere),
 * or the uploaded file's own delimiter and encoding (`format=source`), so it opens where it came
 * from (a `;` file in a French Excel, a UTF-16 "Unicode text" file).
 */
export type CsvFormat = { delimiter: string; encoding: 'utf-8' | 'utf-16le' | 'utf-16be' };
export const DEFAULT_CSV_FORMAT: CsvFormat = { delimiter: ',', encoding: 'utf-8' };

const UTF16_BOM = '\ufeff';

/** Re-encodes csv-stringify's UTF-8 output as UTF-16 with its BOM, across chunk boundaries. */
function utf16(encoding: 'utf-16le' | 'utf-16be'): Transform {
  const decoder = new StringDecoder('utf8');
  let first = true;
  const encode = (text: string) => {
    const bytes = Buffer.from(first ? UTF16_BOM + text : text, 'utf16le');
    first = false;
    return encoding === 'utf-16be' ? bytes.swap16() : bytes;
  };
  return new Transform({
    transform(chunk: Buffer | string, _enc, done) {
      done(null, encode(typeof chunk === 'string' ? chunk : decoder.write(chunk)));
    },
    flush(done) {
      done(null, encode(decoder.end()));
    },
  });
}

/** Streams `records` as CSV in `format`; a failing source ends the response with an error. */
function csvStream(
  records: Readable,
  format: CsvFormat,
  options: { header?: boolean; columns?: string[] } = {},
): Readable {
  const csv = stringify({ ...options, delimiter: format.delimiter, bom: format.encoding === 'utf-8' });
  // pipeline, unlike pipe, destroys the output when the source fails, so the response ends with an error.
  if (format.encoding === 'utf-8') {
    pipeline(records, csv, () => undefined);
    return csv;
  }
  const encoded = utf16(format.encoding);
  pipeline(records, csv, encoded, () => undefined);
  return encoded;
}

/** A byte stream of the CSV, pulling companies page by page as the client reads. */
export function companiesCsvStream(
  companies: AsyncIterable<Company>,
  format: CsvFormat = DEFAULT_CSV_FORMAT,
  columns: ExportColumns = { provenance: false },
): Readable {
  const records = Readable.from(
    (async function* () {
      for await (const c of companies) {
        yield columns.provenance ? [...toRecord(c), ...provenanceCells(c).map((v) => v ?? '')] : toRecord(c);
      }
    })(),
  );
  const header = [...EXPORT_COLUMNS, ...(columns.provenance ? PROVENANCE_COLUMNS : [])];
  return csvStream(records, format, { header: true, columns: header });
}

/**
 * Columns the row-level export appends to the file's own, prefixed so they never collide with a
 * CRM's `name` or `domain`. A rejected row has status `rejected` and its reason as error code.
 */
export const ROW_EXPORT_COLUMNS = [
  'enriched_domain',
  'enriched_status',
  'enriched_business_id',
  'enriched_match_confidence',
  'enriched_name',
  'enriched_industry',
  'enriched_company_size',
  'enriched_revenue_range',
  'enriched_country',
  'enriched_region',
  'enriched_city',
  'enriched_website',
  'enriched_linkedin_url',
  'enriched_description',
  'enriched_email_provider',
  'enriched_technologies',
  'enriched_error_code',
  'enriched_error_message',
  'enriched_at',
] as const;

/** One row of the user's file: its cells as written, its company (null when rejected), its rejection. */
export type FileRow = {
  record: string[];
  reason: string | null;
  message: string | null;
  company: Company | null;
};

function appendedCells(row: FileRow): (string | null)[] {
  const c = row.company;
  if (!c) {
    // Domain and status, business id and confidence, ten firmographic cells, two signal cells, then
    // error code, error message, enriched_at.
    return ['', 'rejected', ...Array<null>(14).fill(null), row.reason, row.message, null];
  }
  return [
    c.domain,
    c.status,
    c.business_id,
    c.match_confidence === null ? null : String(c.match_confidence),
    c.name,
    c.industry,
    c.company_size,
    c.revenue_range,
    c.country,
    c.region,
    c.city,
    c.website,
    c.linkedin_url,
    c.description,
    c.signals?.email_provider ?? null,
    technologiesCell(c),
    c.error?.code ?? null,
    c.error?.message ?? null,
    c.enriched_at,
  ];
}

/**
 * The user's file back, row for row and column for column under its own header, with the
 * enrichment columns appended; every cell (the file's own too) neutralized against formulas.
 */
export function rowsCsvStream(
  header: readonly string[],
  rows: AsyncIterable<FileRow>,
  format: CsvFormat = DEFAULT_CSV_FORMAT,
  columns: ExportColumns = { provenance: false },
): Readable {
  const width = header.length;
  const appended = [
    ...ROW_EXPORT_COLUMNS,
    ...(columns.provenance ? PROVENANCE_COLUMNS.map((c) => `enriched_${c}`) : []),
  ];
  const records = Readable.from(
    (async function* () {
      yield [...header, ...appended].map(neutralizeFormula);
      for await (const row of rows) {
        const own = row.record.length === width ? row.record : padded(row.record, width);
        const cells = columns.provenance
          ? [...appendedCells(row), ...provenanceCells(row.company)]
          : appendedCells(row);
        yield [...own, ...cells].map((v) => (v === null ? '' : neutralizeFormula(v)));
      }
    })(),
  );
  return csvStream(records, format);
}

function padded(record: readonly string[], width: number): string[] {
  const out = record.slice(0, width);
  while (out.length < width) out.push('');
  return out;
}
