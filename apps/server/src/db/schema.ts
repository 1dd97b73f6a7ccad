/**
 * The database schema. PostgreSQL is the source of truth for every job and company: the queue
 * only dispatches (see docs/adr/0001). Migrations under ./migrations are generated from this
 * file with `npm run db:generate` and never edited once committed.
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

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
    status: text('status', { enum: ['queued', 'running', 'paused', 'completed', 'cancelled'] })
      .notNull()
      .default('queued'),
    provider: text('provider', { enum: ['explorium', 'sandbox'] }).notNull(),
    filename: text('filename'),
    total: integer('total').notNull(),
    inputRows: integer('input_rows').notNull(),
    rejectedRows: integer('rejected_rows').notNull().default(0),
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

export const companies = pgTable(
  'companies',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    domain: text('domain').notNull(),
    input: text('input').notNull(),
    rowNumber: integer('row_number').notNull(),
    status: text('status', { enum: ['queued', 'processing', 'enriched', 'not_found', 'failed', 'cancelled'] })
      .notNull()
      .default('queued'),
    businessId: text('business_id'),
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
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    attempts: integer('attempts').notNull().default(0),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
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

export const rejectedRows = pgTable(
  'rejected_rows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    rowNumber: integer('row_number').notNull(),
    raw: text('raw').notNull(),
    reason: text('reason').notNull(),
    message: text('message').notNull(),
  },
  (t) => [uniqueIndex('rejected_rows_job_row_uq').on(t.jobId, t.rowNumber)],
);

export type JobRow = typeof jobs.$inferSelect;
export type CompanyRow = typeof companies.$inferSelect;
export type RejectedRowRow = typeof rejectedRows.$inferSelect;
