/**
 * The HTTP contract of /api/v1: request and response schemas shared by the server (which
 * validates and documents with them) and the web app (which types its queries with them).
 * This is the only server-side code the web app imports.
 */
import { z } from 'zod';

// `.meta({ id })` names a schema in the OpenAPI document (components/schemas/<id>), so that
// generated clients get one named type for it instead of a copy per operation.

/**
 * `ingesting`: the file is stored and being read into rows and companies (counts and estimate come
 * when it is done); `failed`: the file could not be read (`error` says why). Both before any task.
 */
export const JOB_STATUSES = [
  'ingesting',
  'queued',
  'running',
  'paused',
  'completed',
  'cancelled',
  'failed',
] as const;
export const JobStatus = z.enum(JOB_STATUSES).meta({ id: 'JobStatus' });
export type JobStatus = z.infer<typeof JobStatus>;

export const COMPANY_STATUSES = [
  'queued',
  'processing',
  'enriched',
  'not_found',
  'failed',
  'cancelled',
] as const;
export const CompanyStatus = z.enum(COMPANY_STATUSES).meta({ id: 'CompanyStatus' });
export type CompanyStatus = z.infer<typeof CompanyStatus>;

/** Statuses a company never leaves on its own. */
export const TERMINAL_COMPANY_STATUSES: readonly CompanyStatus[] = [
  'enriched',
  'not_found',
  'failed',
  'cancelled',
];
/** Statuses a job never leaves on its own. */
export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['completed', 'cancelled', 'failed'];
/** Statuses of a job whose file is not read into companies: no counts to show, no estimate, nothing to export. */
export const UNREAD_JOB_STATUSES: readonly JobStatus[] = ['ingesting', 'failed'];

export const PROVIDER_NAMES = ['explorium', 'pdl', 'web', 'sandbox'] as const;
export const ProviderName = z.enum(PROVIDER_NAMES).meta({ id: 'ProviderName' });
export type ProviderName = z.infer<typeof ProviderName>;

/**
 * The fields providers fill. In a waterfall the first provider that returns a value for a field
 * fills it, and a later provider is asked only while a field it can fill is still empty.
 */
/** The firmographic columns a paid provider fills. */
export const FIRMOGRAPHIC_FIELDS = [
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
] as const;
/** What the web provider reads beyond them (`signals`). */
export const SIGNAL_FIELDS = [
  'email_provider',
  'technologies',
  'logo_url',
  'founded_year',
  'employee_count',
  'social_profiles',
] as const;
export const ENRICHED_FIELDS = [...FIRMOGRAPHIC_FIELDS, ...SIGNAL_FIELDS] as const;
export const EnrichedField = z.enum(ENRICHED_FIELDS).meta({ id: 'EnrichedField' });
export type EnrichedField = z.infer<typeof EnrichedField>;

export const FieldProvenance = z
  .object({
    provider: ProviderName,
    fetched_at: z.iso.datetime().describe('When that provider produced the values'),
    confidence: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe(
        "The provider's confidence in its match (0–1; People Data Labs' likelihood / 10), when it gives one",
      ),
    source: z
      .enum(['provider', 'cache'])
      .describe('"cache": reused from an earlier enrichment by that provider'),
  })
  .describe('Where a value came from')
  .meta({ id: 'FieldProvenance' });
export type FieldProvenance = z.infer<typeof FieldProvenance>;

export const ProvenanceEntry = FieldProvenance.extend({
  fields: z.array(EnrichedField).min(1).describe('The fields this answer filled'),
})
  .describe('One provider answer and the fields it filled')
  .meta({ id: 'ProvenanceEntry' });
export type ProvenanceEntry = z.infer<typeof ProvenanceEntry>;

export const CompanyProvenance = z
  .array(ProvenanceEntry)
  .describe(
    'Where every filled field came from: one entry per provider answer that filled some, oldest first ' +
      '(a field nobody filled is in none). Grouped by answer, so a page of companies stays small.',
  )
  .meta({ id: 'CompanyProvenance' });
export type CompanyProvenance = z.infer<typeof CompanyProvenance>;

/** Where one field of a company came from, if anyone filled it. */
export function provenanceOf(
  provenance: CompanyProvenance,
  field: EnrichedField,
): FieldProvenance | undefined {
  return provenance.find((entry) => entry.fields.includes(field));
}

/**
 * Control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides.
 * In a terminal or a log line they are commands, not text: they move the cursor, set window
 * titles, start forged lines, or reorder what is shown. Names and other free text refuse them.
 */
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTERS.test(value);
}

/** Text made safe to print: each control character written as an escape (`\x1b`, `\u202e`) instead. */
export function escapeControlCharacters(value: string): string {
  return value.replace(new RegExp(CONTROL_CHARACTERS.source, 'gu'), (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A name or label: trimmed, 1 to `max` characters, no control characters. */
export const FreeText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !hasControlCharacters(v), {
      message: 'must not contain control characters (newlines, tabs, escape sequences)',
    });

export const OrgId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'org_id must be 1-64 letters, digits, "_", "." or "-"')
  .describe('Organization identifier, e.g. "acme"');

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. NO_DOMAIN_COLUMN'),
      message: z.string().describe('What went wrong and what to do about it'),
      details: z.record(z.string(), z.unknown()).optional(),
      request_id: z.string().optional(),
    }),
  })
  .describe('Every error the API returns has this shape')
  .meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof ErrorBody>;

export const JobCounts = z
  .object({
    queued: z.number().int(),
    processing: z.number().int(),
    enriched: z.number().int(),
    not_found: z.number().int(),
    failed: z.number().int(),
    cancelled: z.number().int(),
  })
  .meta({ id: 'JobCounts' });
export type JobCounts = z.infer<typeof JobCounts>;

export const Job = z
  .object({
    id: z.uuid(),
    org_id: z.string(),
    status: JobStatus,
    provider: ProviderName.describe('The first provider of `providers`; "sandbox" means synthetic data'),
    providers: z
      .array(ProviderName)
      .min(1)
      .describe(
        'The waterfall: providers asked in this order, each only for fields the ones before it left empty',
      ),
    filename: z.string().nullable(),
    total: z.number().int().describe('Unique companies in the job'),
    counts: JobCounts,
    rejected_rows: z.number().int().describe('Input rows whose domain could not be used'),
    input_rows: z
      .number()
      .int()
      .describe('Data rows read from the file (while `ingesting`: the rows counted when it was received)'),
    error: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .describe('Job-level problem, e.g. the provider rejected the API key'),
    force_refresh: z.boolean().describe('The enrichment cache is ignored for this job'),
    max_credits: z
      .number()
      .int()
      .nullable()
      .describe(
        'The most credits the job may spend: credits are reserved before each call, and the job pauses when ' +
          'none are left (raise or remove it with PATCH, then resume)',
      ),
    estimate: z
      .object({
        cache_hits: z.number().int().describe('Companies whose result is already in the enrichment cache'),
        provider_calls: z.number().int().describe('Bulk calls at most (match + firmographics, 50 per call)'),
        credits: z.number().int().describe('Records billed at most (one per matched company)'),
        duration_seconds: z.number().int().describe('Time the provider rate limit allows for those calls'),
        providers: z
          .array(
            z.object({
              provider: ProviderName,
              provider_calls: z.number().int().describe('Calls at most to this provider'),
              credits: z.number().int().describe('Credits at most at this provider (0: a free provider)'),
            }),
          )
          .describe(
            'Per provider of the waterfall. Upper bounds: a later provider is assumed asked for every ' +
              'company, though it is asked only for those whose fields are still empty',
          ),
      })
      .nullable()
      .describe('What the job was expected to cost before it ran; null while `ingesting`'),
    usage: z
      .object({
        provider_calls: z
          .number()
          .int()
          .describe(
            'Provider calls that carried companies of this job and reached the provider (failed ones too; ' +
              'not those never sent, e.g. while the circuit breaker was open)',
          ),
        records_billed: z
          .number()
          .int()
          .describe('Items of this job in calls the provider answered successfully (failed calls bill none)'),
        credits: z.number().int().describe('Estimated credits: records the provider returned data for'),
        cache_hits: z.number().int().describe('Companies answered from the enrichment cache'),
        providers: z
          .array(
            z.object({
              provider: ProviderName,
              provider_calls: z.number().int(),
              records_billed: z.number().int(),
              credits: z.number().int(),
            }),
          )
          .describe('The same, per provider the job has called (its ledger rows)'),
      })
      .describe('What the job has cost so far'),
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    finished_at: z.iso.datetime().nullable(),
  })
  .describe('An enrichment of one uploaded file')
  .meta({ id: 'Job' });
export type Job = z.infer<typeof Job>;

export const JobList = z
  .object({ data: z.array(Job), next_cursor: z.string().nullable() })
  .meta({ id: 'JobList' });
export type JobList = z.infer<typeof JobList>;

export const CompanyError = z.object({ code: z.string(), message: z.string() });

export const CompanySignals = z
  .object({
    email_provider: z
      .string()
      .nullable()
      .describe('From the MX records: Google Workspace, Microsoft 365, Self-hosted…'),
    technologies: z
      .array(z.object({ name: z.string(), category: z.string() }))
      .describe('Tools in use, from DNS (SPF includes, TXT verifications) and the homepage (HTML, headers)'),
    logo_url: z.string().nullable(),
    founded_year: z.number().int().nullable(),
    employee_count: z.number().int().nullable().describe('As the company publishes it (JSON-LD)'),
    social_profiles: z
      .record(z.string(), z.string())
      .describe('Profile URLs by network: linkedin, twitter, github…'),
  })
  .describe('Signals beyond firmographics (the web provider reads them from DNS and the homepage)')
  .meta({ id: 'CompanySignals' });
export type CompanySignals = z.infer<typeof CompanySignals>;

export const Company = z
  .object({
    id: z.uuid(),
    job_id: z.uuid(),
    domain: z.string(),
    input: z.string().describe('The value as it was in the file (first occurrence)'),
    row_number: z.number().int().describe('1-based data row of the first occurrence'),
    status: CompanyStatus,
    business_id: z
      .string()
      .nullable()
      .describe(
        "The id of the company at the first provider that matched it (People Data Labs' is the domain)",
      ),
    match_confidence: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe(
        "The confidence of the first provider that returned data for it, when that provider gives one (0–1; People Data Labs' likelihood / 10)",
      ),
    name: z.string().nullable(),
    industry: z.string().nullable(),
    company_size: z.string().nullable(),
    revenue_range: z.string().nullable().describe('"Unknown" when the provider has none'),
    country: z.string().nullable(),
    region: z.string().nullable(),
    city: z.string().nullable(),
    website: z.string().nullable(),
    linkedin_url: z.string().nullable(),
    description: z.string().nullable(),
    signals: CompanySignals.nullable(),
    provenance: CompanyProvenance,
    error: CompanyError.nullable(),
    attempts: z.number().int(),
    source: z.enum(['provider', 'cache']).nullable().describe('"cache": reused from an earlier enrichment'),
    fetched_at: z.iso
      .datetime()
      .nullable()
      .describe(
        'When the provider produced this result (the latest of its providers; per field: `provenance`)',
      ),
    enriched_at: z.iso.datetime().nullable(),
    updated_at: z.iso
      .datetime()
      .describe('When the row last changed (status or fields): what `updated_since` compares with'),
  })
  .describe('One unique domain of a job and what is known about it')
  .meta({ id: 'Company' });
export type Company = z.infer<typeof Company>;

export const CompanyList = z
  .object({ data: z.array(Company), next_cursor: z.string().nullable() })
  .meta({ id: 'CompanyList' });
export type CompanyList = z.infer<typeof CompanyList>;

export const PAGE_LIMIT_MAX = 500;

/**
 * The organization comes from the API key. `org_id` is still accepted so older clients keep
 * working: the key's own organization is fine, any other is answered 403.
 */
export const OrgIdParam = OrgId.optional().describe(
  "Optional: the API key's organization. Another organization is answered 403.",
);

export const JobListQuery = z.object({
  org_id: OrgIdParam,
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).optional().describe('next_cursor of the previous page'),
});

export const JobParams = z.object({ jobId: z.uuid({ message: 'job id must be a UUID' }) });

export const OrgQuery = z.object({ org_id: OrgIdParam });

/** A row of the uploaded file that gave no company, with why. */
export const RejectedRow = z.object({
  row_number: z.number().int(),
  raw: z.string(),
  reason: z.string(),
  message: z.string(),
});
export type RejectedRow = z.infer<typeof RejectedRow>;
export const RejectedRowList = z.object({ data: z.array(RejectedRow), next_cursor: z.string().nullable() });
export type RejectedRowList = z.infer<typeof RejectedRowList>;
export const RejectedRowListQuery = OrgQuery.extend({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).optional(),
});

/** How a job's export is laid out and encoded (`GET /jobs/{id}/export.csv`). */
export const ExportQuery = OrgQuery.extend({
  format: z
    .enum(['csv', 'source'])
    .default('csv')
    .describe(
      "`csv`: comma-separated UTF-8 with a BOM. `source`: the uploaded file's own delimiter and encoding " +
        '(a `;` file, a UTF-16 file), so the export opens where the upload came from.',
    ),
  layout: z
    .enum(['companies', 'rows'])
    .default('companies')
    .describe(
      '`companies`: one row per company with every field. `rows`: the uploaded file itself, every row and ' +
        'column in order under its own header, with the enrichment columns appended (a rejected row has ' +
        'status `rejected` and its reason).',
    ),
  provenance: z
    .enum(['true', 'false', '1', '0'], { message: 'provenance must be true or false' })
    .transform((v) => v === 'true' || v === '1')
    .default(false)
    .describe('Also a `<field>_provider` and a `<field>_fetched_at` column per enriched field'),
});

/** The export's body: CSV, described for the API document (not parsed). */
export const ExportCsv = z
  .unknown()
  .describe('CSV with a header row, one row per company or per file row, UTF-8 with BOM');

/** Columns a job's companies can be sorted by (`sort=name`, or `sort=-name` for descending). */
export const COMPANY_SORT_KEYS = [
  'row_number',
  'domain',
  'name',
  'status',
  'industry',
  'company_size',
  'revenue_range',
  'headquarters',
  'website',
  'linkedin_url',
  'description',
  'fetched_at',
  'match_confidence',
] as const;
export type CompanySortKey = (typeof COMPANY_SORT_KEYS)[number];
export const CompanySort = z
  .enum([...COMPANY_SORT_KEYS, ...COMPANY_SORT_KEYS.map((k) => `-${k}` as const)])
  .describe(
    'Order of the rows: a column, `-column` for descending. Text case-insensitively, `company_size` and ' +
      '`revenue_range` by the lower bound of their band, `status` in the order queued, processing, enriched, ' +
      'not_found, failed, cancelled; rows without a value come last either way, ties in file order.',
  )
  .meta({ id: 'CompanySort' });
export type CompanySort = z.infer<typeof CompanySort>;

export const CompanyListQuery = z.object({
  org_id: OrgIdParam,
  status: CompanyStatus.optional(),
  q: z.string().trim().max(200).optional().describe('Search by domain or name (substring)'),
  min_confidence: z.coerce
    .number({ message: 'min_confidence must be a number from 0 to 1' })
    .min(0, 'min_confidence must be a number from 0 to 1')
    .max(1, 'min_confidence must be a number from 0 to 1')
    .optional()
    .describe('Only companies whose match_confidence is at least this (companies without one are left out)'),
  sort: CompanySort.default('row_number'),
  updated_since: z.iso
    .datetime({ message: 'updated_since must be an ISO 8601 date-time, e.g. 2026-01-01T00:00:00.000Z' })
    .optional()
    .describe(
      'Only rows whose `updated_at` is at or after this. A change is visible once its transaction commits, ' +
        'which can be a moment after its `updated_at`: poll with the newest `updated_at` seen minus a few ' +
        'seconds, and merge rows by `id` (a row may come again).',
    ),
  min_row: z.coerce
    .number()
    .int()
    .min(1)
    .max(2_147_483_647)
    .optional()
    .describe('Only rows at or after this row number of the file (with max_row: the rows a client shows)'),
  max_row: z.coerce
    .number()
    .int()
    .min(1)
    .max(2_147_483_647)
    .optional()
    .describe('Only rows at or before this row number of the file (the rows a client has loaded)'),
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(50),
  cursor: z
    .string()
    .min(1)
    .optional()
    .describe('next_cursor of the previous page, with the same `sort` (another sort is answered 400)'),
});

/** The largest max_credits: the column is a 32-bit integer (set no limit instead). */
export const MAX_CREDITS_LIMIT = 2_000_000_000;

/** Fields of the multipart upload (the file itself is the `file` part). */
export const UploadFields = z.object({
  org_id: OrgIdParam,
  header_row: z.coerce
    .number({ message: 'header_row must be a whole number' })
    .int('header_row must be a whole number')
    .min(1, 'header_row must be at least 1 (the first line)')
    .max(1_000, 'header_row must be at most 1000')
    .optional()
    .describe('The line that holds the header (1 = the first), when report or title rows come before it'),
  domain_column: FreeText(200).optional(),
  force_refresh: z
    .enum(['true', 'false', '1', '0', 'on', 'off'], { message: 'force_refresh must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'on')
    .optional()
    .describe('Ask the provider again even for domains in the enrichment cache'),
  max_credits: z.coerce
    .number({ message: 'max_credits must be a whole number' })
    .int('max_credits must be a whole number')
    .min(1, 'max_credits must be at least 1')
    .max(MAX_CREDITS_LIMIT, `max_credits must be at most ${MAX_CREDITS_LIMIT}`)
    .optional()
    .describe('Pause the job when its estimated credits reach this'),
  start: z
    .enum(['true', 'false', '1', '0', 'on', 'off'], { message: 'start must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'on')
    .optional()
    .describe(
      'false: the job is made with its estimate and waits, paused with the code AWAITING_START, until ' +
        'POST /jobs/{id}/resume starts it (or it is cancelled). Default true: it starts at once.',
    ),
  providers: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== ''),
    )
    .pipe(
      z
        .array(
          z.string().regex(/^[a-z0-9_-]{1,40}$/, 'provider names are lower-case letters, digits, "-" or "_"'),
        )
        .min(1, 'providers: name at least one provider')
        .max(10),
    )
    .optional()
    .describe(
      'The waterfall: providers to ask, in order, comma-separated (e.g. `explorium,pdl,web`). Each is asked ' +
        "only for companies with a field it can fill still empty. Default: the server's ENRICHMENT_PROVIDERS. " +
        'A provider this server has no key for is refused (400) with the names of those it has.',
    ),
});

export const ROLES = ['admin', 'member', 'viewer'] as const;
export const Role = z
  .enum(ROLES)
  .describe(
    'admin: manage keys, read the audit log; member: upload, resume, cancel, retry, export; viewer: read',
  )
  .meta({ id: 'Role' });
export type Role = z.infer<typeof Role>;

/** What a role may do; each role may do everything the roles after it may. */
export const ROLE_RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2 };
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

export const Me = z
  .object({
    org_id: z.string(),
    org_name: z.string(),
    role: Role,
    key_prefix: z.string().describe('The visible start of the key in use'),
  })
  .describe('Who the API key in use belongs to')
  .meta({ id: 'Me' });
export type Me = z.infer<typeof Me>;

export const ApiKey = z
  .object({
    prefix: z.string().describe('The visible start of the key; names it in lists and the audit log'),
    org_id: z.string(),
    role: Role,
    name: z.string().nullable(),
    created_by: z.string().describe('Prefix of the key that created it, or cli / bootstrap'),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime().nullable().describe('Updated at most once a minute'),
    revoked_at: z.iso.datetime().nullable(),
  })
  .describe('An API key, without the key itself (only its hash is stored)')
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof ApiKey>;

export const ApiKeyList = z.object({ data: z.array(ApiKey) }).meta({ id: 'ApiKeyList' });
export type ApiKeyList = z.infer<typeof ApiKeyList>;

export const CreateApiKeyBody = z
  .object({
    role: Role,
    name: FreeText(100).optional().describe('A label, e.g. "CI" or "Dana"; no control characters'),
  })
  .meta({ id: 'CreateApiKeyBody' });

export const CreatedApiKey = ApiKey.extend({
  key: z
    .string()
    .describe('The key itself: shown this once, never again. Send it as Authorization: Bearer <key>'),
}).meta({ id: 'CreatedApiKey' });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

export const KeyPrefixParams = z.object({ prefix: z.string().min(4).max(64) });

export const AuditEntry = z
  .object({
    id: z.string().describe("Random: says nothing about other organizations' activity"),
    at: z.iso.datetime(),
    actor: z.string().describe('Prefix of the key that acted, or cli / bootstrap'),
    action: z.string().describe('e.g. key.create, key.revoke, job.upload, job.resume, job.export'),
    target_type: z.string().nullable(),
    target_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
    request_id: z.string().nullable(),
    client_ip: z
      .string()
      .nullable()
      .describe("The client's address (through the proxies TRUST_PROXY names); null for the CLI"),
  })
  .describe('One audited action')
  .meta({ id: 'AuditEntry' });
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditLogList = z
  .object({ data: z.array(AuditEntry), next_cursor: z.string().nullable() })
  .meta({ id: 'AuditLogList' });
export type AuditLogList = z.infer<typeof AuditLogList>;

export const AuditLogQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).optional().describe('next_cursor of the previous page'),
});

export const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const Readiness = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.record(
      z.string(),
      z.object({
        ok: z.boolean(),
        error: z.string().optional().describe('A code ("unavailable"); the reason is in the server log'),
      }),
    ),
  })
  .meta({ id: 'Readiness' });

export function isFileRead(job: Pick<Job, 'status'>): boolean {
  return !UNREAD_JOB_STATUSES.includes(job.status);
}

export function isJobFinished(job: Pick<Job, 'status'> | undefined): boolean {
  return job !== undefined && FINISHED_JOB_STATUSES.includes(job.status);
}

export const UpdateJobBody = z
  .strictObject({
    max_credits: z
      .number({ message: 'max_credits must be a whole number, or null for no limit' })
      .int('max_credits must be a whole number')
      .min(1, 'max_credits must be at least 1')
      .max(MAX_CREDITS_LIMIT, `max_credits must be at most ${MAX_CREDITS_LIMIT}`)
      .nullable()
      .describe(
        'Pause the job when its credits reach this; null removes the limit. It must be above the credits ' +
          'already spent. A job paused at its limit stays paused: resume it after raising the limit.',
      ),
  })
  .describe('What may change on a job that is still running or paused')
  .meta({ id: 'UpdateJobBody' });
export type UpdateJobBody = z.infer<typeof UpdateJobBody>;

export const RetryBody = z
  .object({
    include_not_found: z
      .boolean()
      .default(false)
      .describe('Also ask the provider again for companies it did not match (skips the enrichment cache)'),
  })
  // A POST without a body arrives as null: it means the defaults.
  .nullish();

/** Job events a webhook endpoint can subscribe to: sent when a job reaches that status. */
export const WEBHOOK_EVENT_TYPES = ['job.completed', 'job.failed', 'job.paused', 'job.cancelled'] as const;
export const WebhookEventType = z.enum(WEBHOOK_EVENT_TYPES).meta({ id: 'WebhookEventType' });
export type WebhookEventType = z.infer<typeof WebhookEventType>;

export const WebhookEndpoint = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(WebhookEventType),
    description: z.string().nullable(),
    created_by: z.string().describe('Prefix of the key that created it'),
    created_at: z.iso.datetime(),
  })
  .describe('Where job events are sent (signed with a secret shown once, at creation)')
  .meta({ id: 'WebhookEndpoint' });
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

export const WebhookEndpointList = z
  .object({ data: z.array(WebhookEndpoint) })
  .meta({ id: 'WebhookEndpointList' });

export const CreatedWebhookEndpoint = WebhookEndpoint.extend({
  secret: z
    .string()
    .describe(
      'The signing secret (whsec_…): shown this once. Verify `webhook-signature` with it (Standard Webhooks)',
    ),
}).meta({ id: 'CreatedWebhookEndpoint' });
export type CreatedWebhookEndpoint = z.infer<typeof CreatedWebhookEndpoint>;

export const CreateWebhookBody = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, message: 'url must be an http:// or https:// URL' })
      .max(2048)
      .describe(
        'Where events are POSTed. Its host must resolve to public addresses only (private, loopback, ' +
          'link-local and metadata addresses are refused unless the installation allows them)',
      ),
    events: z
      .array(WebhookEventType)
      .min(1)
      .max(WEBHOOK_EVENT_TYPES.length)
      .optional()
      .describe('Events to send; default all'),
    description: FreeText(200).optional(),
  })
  .meta({ id: 'CreateWebhookBody' });
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

export const WebhookParams = z.object({ webhookId: z.uuid({ message: 'webhook id must be a UUID' }) });
export const WebhookDeliveryParams = WebhookParams.extend({
  deliveryId: z.uuid({ message: 'delivery id must be a UUID' }),
});

export const WebhookDelivery = z
  .object({
    id: z.uuid(),
    event_id: z
      .uuid()
      .describe('The `webhook-id` header: the same on every attempt; receivers drop repeats by it'),
    event_type: WebhookEventType,
    job_id: z.uuid(),
    status: z
      .enum(['pending', 'delivered', 'failed'])
      .describe('`failed`: every retry was spent (about 27 h of backoff); it can be resent'),
    attempts: z.int(),
    last_attempt_at: z.iso.datetime().nullable(),
    last_status_code: z.int().nullable().describe("The receiver's HTTP status at the last attempt"),
    last_error: z.string().nullable(),
    next_attempt_at: z.iso.datetime().nullable().describe('When it is tried next (pending only)'),
    delivered_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .describe('One event sent to one endpoint, with its attempts')
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const WebhookDeliveryList = z
  .object({ data: z.array(WebhookDelivery), next_cursor: z.string().nullable() })
  .meta({ id: 'WebhookDeliveryList' });

export const WebhookDeliveryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).optional().describe('next_cursor of the previous page'),
});
