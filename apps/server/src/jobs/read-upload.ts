/**
 * Reads an uploaded CSV into what a job is made of: one company per unique normalized domain
 * (its first row kept as the company's input) and every other row either linked to a company or
 * rejected with a reason. Nothing is dropped silently.
 */
import { normalizeDomain } from '../ingest/normalize-domain';
import { openDomainCsv } from '../ingest/read-domain-csv';
import type { NewCompany, NewRejectedRow } from './jobs.repository';

export type ParsedUpload = {
  filename: string | null;
  inputRows: number;
  companies: NewCompany[];
  rejected: NewRejectedRow[];
  duplicates: number;
};

export async function readUpload(
  source: AsyncIterable<Uint8Array>,
  opts: {
    filename: string | null;
    domainColumn?: string;
    maxRows: number;
    blockedEmailDomains: ReadonlySet<string>;
  },
): Promise<ParsedUpload> {
  const csv = await openDomainCsv(source, { domainColumn: opts.domainColumn, maxRows: opts.maxRows });
  const byDomain = new Map<string, NewCompany>();
  const rejected: NewRejectedRow[] = [];
  let inputRows = 0;
  let duplicates = 0;
  for await (const row of csv.rows) {
    inputRows++;
    const result = normalizeDomain(row.value, { blockedEmailDomains: opts.blockedEmailDomains });
    if (!result.ok) {
      rejected.push({
        rowNumber: row.rowNumber,
        raw: row.value,
        reason: result.reason,
        message: result.message,
      });
    } else if (byDomain.has(result.domain)) {
      duplicates++;
    } else {
      byDomain.set(result.domain, { domain: result.domain, input: row.value, rowNumber: row.rowNumber });
    }
  }
  return { filename: opts.filename, inputRows, companies: [...byDomain.values()], rejected, duplicates };
}

export type UploadReader = {
  read(
    source: AsyncIterable<Uint8Array>,
    opts: { filename: string | null; domainColumn?: string },
  ): Promise<ParsedUpload>;
};

export function createUploadReader(limits: {
  maxRows: number;
  blockedEmailDomains: ReadonlySet<string>;
}): UploadReader {
  return { read: (source, opts) => readUpload(source, { ...opts, ...limits }) };
}
