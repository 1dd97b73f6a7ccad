/**
 * The database schema. PostgreSQL is the source of truth for every job and company: the queue
 * only dispatches (see docs/adr/0001). Migrations under ./migrations are generated from this
 * file with `npm run db:generate` and never edited once committed.
 */

import { PROVIDER_NAMES } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { FieldProvenances } from '../enrichment/waterfall';
import type { ProviderEstimate } from '../jobs/estimate';
import type { CompanySignals } from '../providers/provider';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const organizations = pgTable('organizations', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    // `ingesting` while the stored upload is read into rows and companies; `failed` when it could not be.
    status: text('status', {
      enum: ['ingesting', 'queued', 'running', 'paused', 'completed', 'cancelled', 'failed'],
    })
      .notNull()
      .default('queued'),
    /**
     * The first of `providers`. Kept for processes of the previous release during a rolling deploy
     * (they read it); new code reads `providers`.
     */
    provider: text('provider', { enum: PROVIDER_NAMES }).notNull(),
    /** The waterfall: providers asked in this order, each only for fields still empty (enrichment/waterfall.ts). */
    providers: text('providers', { enum: PROVIDER_NAMES }).array().notNull(),
    filename: text('filename'),
    total: integer('total').notNull(),
    inputRows: integer('input_rows').notNull(),
    rejectedRows: integer('rejected_rows').notNull().default(0),
    /**
     * The file's header cells as written, padded with '' to its widest row, for the row-level
     * export. Null for jobs created before rows were kept.
     */
    inputHeader: text('input_header').array(),
    /** The upload's `domain_column` field (null: detected from the header), for reading the stored file. */
    domainColumn: text('domain_column'),
    /** The upload's `header_row` field: the file's line holding the header (null: detected). */
    headerRow: integer('header_row'),
    /** The upload's delimiter and encoding as detected, for the row export in the file's own form. */
    inputDelimiter: text('input_delimiter'),
    inputEncoding: text('input_encoding'),
    // Per-status counters, moved in the same transaction as each company's status so a poll
    // never counts rows (see jobs.repository.ts: transitionCompany).
    queuedCount: integer('queued_count').notNull().default(0),
    processingCount: integer('processing_count').notNull().default(0),
    enrichedCount: integer('enriched_count').notNull().default(0),
    notFoundCount: integer('not_found_count').notNull().default(0),
    failedCount: integer('failed_count').notNull().default(0),
    cancelledCount: integer('cancelled_count').notNull().default(0),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** Ignore the enrichment cache: ask the provider again for every company. */
    forceRefresh: boolean('force_refresh').notNull().default(false),
    /** Pause the job when its estimated credits reach this. */
    maxCredits: integer('max_credits'),
    // What the job was expected to cost when it was created (see jobs/estimate.ts).
    estimateCacheHits: integer('estimate_cache_hits').notNull().default(0),
    estimateProviderCalls: integer('estimate_provider_calls').notNull().default(0),
    estimateCredits: integer('estimate_credits').notNull().default(0),
    estimateSeconds: integer('estimate_seconds').notNull().default(0),
    /** The estimate per provider of the waterfall (the columns above are their sums). */
    estimateProviders: jsonb('estimate_providers').$type<ProviderEstimate[]>(),
    // What it has cost so far, moved in the same statements as the companies (never summed per poll).
    cacheHits: integer('cache_hits').notNull().default(0),
    /**
     * The W3C trace context of the upload request (null when tracing was off): whichever process
     * dispatches the job's companies continues the upload's trace from it (observability/dispatch-trace.ts).
     */
    traceContext: jsonb('trace_context').$type<{ traceparent: string; tracestate?: string }>(),
    createdAt: createdAt(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('jobs_org_created_idx').on(t.orgId, t.createdAt.desc(), t.id.desc()),
    check(
      'jobs_counters_sum_to_total',
      sql`${t.queuedCount} + ${t.processingCount} + ${t.enrichedCount} + ${t.notFoundCount} + ${t.failedCount} + ${t.cancelledCount} = ${t.total}`,
    ),
  ],
);

/**
 * A job's companies, one per distinct domain of its file. No foreign keys (docs/adr/0008): a job's
 * companies are written only in the transaction that reads its file, with the job's own org_id
 * and the job row locked, and a per-row check cost more than the row itself (a million rows ready
 * in seconds, not a minute). Nothing deletes a job that has companies; whatever does must delete
 * them too (as deleteIngestingJob does).
 */
export const companies = pgTable(
  'companies',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id').notNull(),
    jobId: uuid('job_id').notNull(),
    domain: text('domain').notNull(),
    input: text('input').notNull(),
    rowNumber: integer('row_number').notNull(),
    status: text('status', { enum: ['queued', 'processing', 'enriched', 'not_found', 'failed', 'cancelled'] })
      .notNull()
      .default('queued'),
    /** The id at the first provider of the waterfall that matched it (the result shown). */
    businessId: text('business_id'),
    /** Which provider of its job's waterfall is asked next (0: the first). */
    providerStep: smallint('provider_step').notNull().default(0),
    /**
     * The match of the provider at `provider_step`, kept while the company waits for a retry so that
     * the retry only enriches (a match is a paid call at some providers).
     */
    stepBusinessId: text('step_business_id'),
    /** Per filled field: the provider, when, its confidence and whether from the cache. */
    provenance: jsonb('provenance').$type<FieldProvenances>(),
    /** The confidence of the first provider that returned data, when it gives one (0–1). */
    matchConfidence: real('match_confidence'),
    /**
     * The failure of an earlier provider of the waterfall that gave up on it (`error_code` is the
     * current step's, while it retries): a company no later provider finds ends failed with it.
     */
    failedStepError: jsonb('failed_step_error').$type<{ code: string; message: string }>(),
    name: text('name'),
    industry: text('industry'),
    companySize: text('company_size'),
    revenueRange: text('revenue_range'),
    country: text('country'),
    region: text('region'),
    city: text('city'),
    website: text('website'),
    linkedinUrl: text('linkedin_url'),
    description: text('description'),
    /** The provider's signals beyond firmographics (providers/provider.ts CompanySignals); null when none. */
    signals: jsonb('signals').$type<CompanySignals>(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    attempts: integer('attempts').notNull().default(0),
    /** Where the result came from: the provider now, or the enrichment cache. */
    source: text('source', { enum: ['provider', 'cache'] }),
    /** When the provider produced the result (for a cached result: the original call). */
    fetchedAt: timestamp('fetched_at', { withTimezone: true }),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    /** The worker process holding the claim: only it renews the lease (a lost claim is not renewed). */
    claimToken: uuid('claim_token'),
    enrichedAt: timestamp('enriched_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('companies_job_domain_uq').on(t.jobId, t.domain),
    // Keyset pages walk a job in the user's row order, optionally within one status.
    uniqueIndex('companies_job_row_uq').on(t.jobId, t.rowNumber),
    index('companies_job_status_row_idx').on(t.jobId, t.status, t.rowNumber),
  ],
);

/**
 * A job's rows without a usable domain. No foreign keys, as for companies (docs/adr/0009): they are
 * written only by the read of the job's file (with the job row locked, its org_id taken from it)
 * or by failIngestingJob for the job it fails, and a per-row check of both keys was a tenth of
 * PostgreSQL's CPU for the read. Whatever deletes a job must delete them too (as
 * deleteIngestingJob does).
 */
export const rejectedRows = pgTable(
  'rejected_rows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id').notNull(),
    jobId: uuid('job_id').notNull(),
    rowNumber: integer('row_number').notNull(),
    raw: text('raw').notNull(),
    reason: text('reason').notNull(),
    message: text('message').notNull(),
  },
  (t) => [uniqueIndex('rejected_rows_job_row_uq').on(t.jobId, t.rowNumber)],
);

/**
 * Every data row of a file read before its bytes were kept (docs/adr/0011): its cells in `record`,
 * with its normalized domain or the reason it was rejected. Read by the row-level export of those
 * jobs only; a file read now keeps its bytes in upload_chunks and its rows' domains in
 * job_row_domains. Nothing deletes jobs today; whatever does must delete their rows too.
 */
export const jobRows = pgTable(
  'job_rows',
  {
    jobId: uuid('job_id').notNull(),
    rowNumber: integer('row_number').notNull(),
    record: text('record').array().notNull(),
    domain: text('domain'),
    reason: text('reason'),
    message: text('message'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.rowNumber] })],
);

/**
 * The normalized domain of each data row of a job's file, in file order, one row of this table per
 * chunk the read wrote (up to 20,000 rows): `domains[i]` is data row `first_row + i`'s, null when
 * that row was rejected (rejected_rows says why). With the file's bytes (upload_chunks, kept) it
 * is what the row-level export needs: each row's cells from the file, its company by this domain.
 * A row per chunk instead of a row per data row: a million rows of `job_rows` cost PostgreSQL
 * about half of its CPU for the read (docs/adr/0011). Stored out of line without compression
 * (migration 0020), like the file. No foreign key, as for companies; whatever deletes a job must
 * delete these (as deleteIngestingJob does).
 */
export const jobRowDomains = pgTable(
  'job_row_domains',
  {
    jobId: uuid('job_id').notNull(),
    firstRow: integer('first_row').notNull(),
    domains: text('domains').array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.firstRow] })],
);

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** Bytes of an upload per upload_chunks row: with plain storage a row fills one 8 KB page. */
export const UPLOAD_CHUNK_BYTES = 8_000;

/**
 * An uploaded file as received, in order: the upload is answered once the bytes are stored, and
 * whoever reads them into companies (the API for a small file, a worker for a large one) reads
 * them from here. Kept after that read as the record of the file's rows, which the row-level
 * export reads again (docs/adr/0011); a file that could not be read is deleted. Written with a
 * binary COPY in rows that fit a page, stored plain (migration 0007): no TOAST and no compression,
 * which stores a file about twice as fast as 1 MB values kept out of line.
 */
export const uploadChunks = pgTable(
  'upload_chunks',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.seq] }),
    check('upload_chunks_fit_a_page', sql`octet_length(${t.data}) <= ${sql.raw(String(UPLOAD_CHUNK_BYTES))}`),
  ],
);

/**
 * Provider results reused across jobs, so a domain is paid for once per freshness window. A
 * no-match is cached too (for a shorter time). Each entry is the organization's whose lookup paid
 * for it; ENRICHMENT_CACHE_SCOPE decides whether others read it (enrichment/enrichment-cache.sql.ts).
 */
export const enrichmentCache = pgTable(
  'enrichment_cache',
  {
    provider: text('provider').notNull(),
    domain: text('domain').notNull(),
    /** '' for entries written before entries had an organization: read with scope `installation` only. */
    orgId: text('org_id').notNull().default(''),
    businessId: text('business_id'),
    /** Our mapped firmographics; null when matched with nothing known, or not matched. */
    firmographics: jsonb('firmographics'),
    fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull(),
  },
  // Provider and domain first: a lookup with scope `installation` reads every organization's entry.
  (t) => [primaryKey({ columns: [t.provider, t.domain, t.orgId] })],
);

/** The credit ledger: one row per provider call and job it served. */
export const providerCalls = pgTable(
  'provider_calls',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    orgId: text('org_id').notNull(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    endpoint: text('endpoint').notNull(),
    /** Items of this job in the call (a bulk call may serve several jobs). */
    items: integer('items').notNull(),
    /** Records the provider billed for this job's items (rows returned with data). */
    credits: integer('credits').notNull(),
    status: integer('status'),
    durationMs: integer('duration_ms').notNull(),
    correlationId: text('correlation_id'),
    /**
     * One provider call, named by the worker before it writes: a write repeated after its
     * connection broke (it may have committed) adds nothing the second time.
     */
    callId: uuid('call_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('provider_calls_job_idx').on(t.jobId),
    uniqueIndex('provider_calls_call_job_uq').on(t.callId, t.jobId),
  ],
);

/**
 * Credits held for a bulk-enrich call about to be made (enrichment/credit-budget.ts): a job's
 * credits spent (provider_calls) plus those held here never exceed its max_credits. The ledger row
 * of the call deletes its reservation in the same statement; the worker that made it renews
 * `expires_at` while the call waits and runs, so a worker that dies stops holding credits within
 * one expiry, and the next reservation for the job deletes lapsed rows.
 */
export const creditReservations = pgTable(
  'credit_reservations',
  {
    id: uuid('id').primaryKey(),
    orgId: text('org_id').notNull(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    credits: integer('credits').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('credit_reservations_job_idx').on(t.jobId),
    check('credit_reservations_credits_positive', sql`${t.credits} > 0`),
  ],
);

/**
 * API keys. Only a SHA-256 of the key is stored (see auth/api-keys.ts for why a fast hash is right
 * for random keys); `prefix` is the short visible part that names a key in lists, logs and the audit log.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    role: text('role', { enum: ['admin', 'member', 'viewer'] }).notNull(),
    name: text('name'),
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull(),
    /** Who made it: a key prefix, `cli` or `bootstrap`. */
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    /** Written at most once a minute per key (auth.service.ts), not on every request. */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('api_keys_hash_uq').on(t.keyHash),
    uniqueIndex('api_keys_prefix_uq').on(t.prefix),
    index('api_keys_org_idx').on(t.orgId, t.createdAt),
  ],
);

/** Who did what to what, and when: key changes, uploads, job actions, exports, refused requests. Append-only. */
export const auditLog = pgTable(
  'audit_log',
  {
    /** Internal only: one sequence for every organization, so its gaps would tell one about the others. */
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** The entry's id in the API: random, so it says nothing about other organizations' activity. */
    publicId: uuid('public_id').notNull().defaultRandom(),
    orgId: text('org_id').notNull(),
    /** The acting key's prefix, or `cli` / `bootstrap`. Never a key. */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    details: jsonb('details'),
    requestId: text('request_id'),
    /** The client's address as TRUST_PROXY lets the server see it; null for the CLI and start-up. */
    clientIp: text('client_ip'),
    createdAt: createdAt(),
  },
  // Keyset pages walk an organization's log newest first, by time and then the random id.
  (t) => [index('audit_log_org_time_idx').on(t.orgId, t.createdAt.desc(), t.publicId.desc())],
);

/**
 * Upload requests made with an Idempotency-Key: the first response is kept, so a client that
 * retries (a timeout, a lost connection) gets the same job instead of a second one.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    key: text('key').notNull(),
    /** SHA-256 of the request (file bytes and form fields): the same key with another body is refused. */
    requestHash: text('request_hash').notNull(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    /** The first response's body, replayed as it was. */
    response: jsonb('response').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.key] })],
);

/**
 * Roles that one process at a time plays for the whole installation (the queue feeder), held by
 * an expiring lease that its holder renews: a process that dies, freezes or loses the database
 * loses the role within one lease, whatever state its connections are in.
 */
export const roleLeases = pgTable('role_leases', {
  role: text('role').primaryKey(),
  holder: uuid('holder').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * Webhooks (docs/adr/0007): an organization's endpoints, the job events that happened, and one
 * delivery per event and endpoint. Events and deliveries are written by a trigger on `jobs`, in
 * the transaction that changes the job's status, whichever code path does it; workers claim due
 * deliveries with a lease and send them, retrying with backoff.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    url: text('url').notNull(),
    /** Event types sent here (job.completed, job.failed, job.paused, job.cancelled). */
    events: text('events').array().notNull(),
    description: text('description'),
    /** The signing secret (whsec_…): kept to sign with, shown to its creator once, never listed. */
    secret: text('secret').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_endpoints_org_idx').on(t.orgId)],
);

export const webhookEvents = pgTable(
  'webhook_events',
  {
    /** The `webhook-id` header: the same on every delivery and redelivery of this event. */
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id').notNull(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    createdAt: createdAt(),
    /** The body, built once at the first attempt and sent unchanged on every later one. */
    payload: jsonb('payload'),
  },
  (t) => [index('webhook_events_job_idx').on(t.jobId)],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => webhookEvents.id, { onDelete: 'cascade' }),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    /** Attempts made, a resend's too (counted when claimed: an attempt cut off by a crash counts). */
    attempts: integer('attempts').notNull().default(0),
    /** Position in the retry schedule; a resend starts it again. */
    retryStep: integer('retry_step').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    /** A worker's claim: nobody else sends this delivery until it lapses. */
    leaseToken: uuid('lease_token'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_endpoint_idx').on(t.eventId, t.endpointId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
  ],
);

export type JobRow = typeof jobs.$inferSelect;
export type CompanyRow = typeof companies.$inferSelect;
export type RejectedRowRow = typeof rejectedRows.$inferSelect;
export type JobRowsRow = typeof jobRows.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type AuditLogRow = typeof auditLog.$inferSelect;
