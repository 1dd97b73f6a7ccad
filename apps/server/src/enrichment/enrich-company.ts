/**
 * The task handler: enriches one company. Claim it (queued → processing), match its domain,
 * fetch firmographics, write the outcome with the job's counters. Provider calls go through the
 * batcher, so many companies in flight share one bulk call.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import {
  type ClaimedCompany,
  type CompanyFields,
  claimCompany,
  pauseJob,
  transitionCompany,
} from '../jobs/jobs.repository';
import type { Firmographics } from '../providers/provider';
import { isProviderError } from '../providers/provider';
import { RetryTaskLater, type TaskHandler } from '../queue/task-queue';
import type { ProviderBatcher } from './provider-batcher';
import type { RetryPolicy } from './retry-policy';

export type EnrichCompanyDeps = {
  db: Db;
  batcher: ProviderBatcher;
  retryPolicy: RetryPolicy;
  logger: Logger;
  /** How long a claim holds a company before another worker may take it over (its worker died). */
  leaseMs: number;
  /** Called once when a company's outcome completes its job. */
  onJobCompleted?: (orgId: string, jobId: string) => void;
};

function firmographicsFields(businessId: string, f: Firmographics | null): CompanyFields {
  return {
    businessId,
    name: f?.name ?? null,
    industry: f?.industry ?? null,
    companySize: f?.companySize ?? null,
    revenueRange: f?.revenueRange ?? 'Unknown',
    country: f?.country ?? null,
    region: f?.region ?? null,
    city: f?.city ?? null,
    website: f?.website ?? null,
    linkedinUrl: f?.linkedinUrl ?? null,
    description: f?.description ?? null,
    errorCode: null,
    errorMessage: null,
    enrichedAt: new Date(),
  };
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function createEnrichCompany(deps: EnrichCompanyDeps): TaskHandler<'enrich-company'> {
  const { db, batcher, retryPolicy, leaseMs } = deps;

  async function finish(
    company: ClaimedCompany,
    to: 'enriched' | 'not_found' | 'failed',
    fields: CompanyFields,
  ) {
    const r = await transitionCompany(db, {
      orgId: company.orgId,
      companyId: company.id,
      from: 'processing',
      to,
      fields,
    });
    if (r.jobCompleted) {
      deps.logger.info({ org_id: company.orgId, job_id: company.jobId }, 'job completed');
      deps.onJobCompleted?.(company.orgId, company.jobId);
    }
  }

  async function handleFailure(company: ClaimedCompany, err: unknown): Promise<void> {
    const log = deps.logger.child({ org_id: company.orgId, job_id: company.jobId, company_id: company.id });
    const kind = isProviderError(err) ? err.kind : 'transient';
    const code = isProviderError(err) ? err.code : 'INTERNAL';

    if (kind === 'auth' || kind === 'quota') {
      // A configuration problem, the same for every company: stop the job once, fail no company.
      if (await pauseJob(db, company.orgId, company.jobId, { code, message: errorMessage(err) })) {
        log.error({ err }, 'job paused: the provider refused the key or has no credits left');
      }
      await transitionCompany(db, {
        orgId: company.orgId,
        companyId: company.id,
        from: 'processing',
        to: 'queued',
        refundAttempt: true,
      });
      return;
    }

    if (kind === 'permanent') {
      await finish(company, 'failed', { errorCode: code, errorMessage: errorMessage(err) });
      return;
    }

    // transient, rate_limited, or a failure of our own (database, bug): retry while attempts last.
    if (!retryPolicy.hasAttemptsLeft(company.attempts)) {
      log.warn({ err, attempts: company.attempts }, 'company failed after its last attempt');
      await finish(company, 'failed', { errorCode: code, errorMessage: errorMessage(err) });
      return;
    }
    const retryAfterMs = isProviderError(err) ? err.retryAfterMs : null;
    const delayMs = retryPolicy.delayMs(company.attempts, retryAfterMs);
    await transitionCompany(db, {
      orgId: company.orgId,
      companyId: company.id,
      from: 'processing',
      to: 'queued',
      fields: { errorCode: code, errorMessage: errorMessage(err) },
    });
    if (!isProviderError(err)) log.error({ err }, 'enrichment failed unexpectedly; retrying');
    throw new RetryTaskLater(delayMs, `attempt ${company.attempts} failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  return async ({ orgId, companyId }) => {
    const company = await claimCompany(db, orgId, companyId, leaseMs);
    // Already finished, claimed by another worker, or its job is paused or cancelled: a
    // duplicate or stale delivery, which changes nothing.
    if (!company) return;
    try {
      const match = await batcher.match(company.domain);
      if ('error' in match) {
        await finish(company, 'failed', {
          errorCode: 'PROVIDER_ITEM_ERROR',
          errorMessage: `The provider could not match this domain: ${match.error.message}`,
        });
        return;
      }
      if (match.businessId === null) {
        await finish(company, 'not_found', {
          errorCode: 'NO_MATCH',
          errorMessage: 'The provider has no company for this domain.',
        });
        return;
      }
      const firmographics = await batcher.enrich(match.businessId);
      await finish(company, 'enriched', firmographicsFields(match.businessId, firmographics));
    } catch (err) {
      await handleFailure(company, err);
    }
  };
}
