/**
 * People Data Labs as an enrichment provider. PDL enriches by domain in one step, so matching
 * is local (the domain is the business id, no call) and the bulk call is the enrichment: a
 * company PDL answers 404 for (below `min_likelihood`, or unknown) was not found and cost
 * nothing, one answered 200 costs one credit (billed only on a match, as PDL bills).
 */
import {
  type EnrichmentProvider,
  FIRMOGRAPHIC_FIELDS,
  type Firmographics,
  type ItemError,
  ProviderError,
  type ProviderErrorKind,
} from '../provider';
import type { PdlClient, PdlResult } from './pdl-client';

/** What toFirmographics can fill; what PDL knows beyond these (PdlExtra) is not stored. */
const PDL_FILLS = FIRMOGRAPHIC_FIELDS;

/**
 * A company of an answered call that PDL left unanswered for a reason that is not the company's:
 * credits ran out during the call (`quota`) or the item was answered 429/5xx (`rate_limited`,
 * `transient`). As an ItemError it is not billed; as a ProviderError it fails only this company's
 * request, and the worker acts on its kind: the job pauses, or the company is asked again, and
 * no company is failed for it. Relies on the batcher rejecting a company whose result is an Error
 * (enrichment/micro-batcher.ts) and billing no ItemError (provider-batcher.ts); the whole-job test
 * test/provider-pdl.test.ts checks both.
 */
export class PdlItemNotAnswered extends ProviderError implements ItemError {
  readonly error: { type: string; message: string };

  constructor(
    kind: ProviderErrorKind,
    message: string,
    error: { type: string; message: string },
    opts: { status: number; retryAfterMs?: number | null },
  ) {
    super(kind, message, { ...opts, endpoint: 'bulk_enrich' });
    this.error = error;
  }
}

function notAnswered(result: Extract<PdlResult, { status: 'out_of_credits' | 'retry' }>): PdlItemNotAnswered {
  if (result.status === 'out_of_credits') {
    return new PdlItemNotAnswered(
      'quota',
      `People Data Labs ran out of credits during a bulk call (402 for ${result.domain}): ${result.error.message}. Add credits, then resume the job`,
      result.error,
      { status: 402 },
    );
  }
  const kind = result.itemStatus === 429 ? 'rate_limited' : 'transient';
  return new PdlItemNotAnswered(
    kind,
    `People Data Labs could not answer ${result.domain} now (${result.itemStatus} inside a bulk answer): ${result.error.message}; retry later`,
    result.error,
    { status: result.itemStatus, retryAfterMs: result.retryAfterMs },
  );
}

export function createPdlProvider(client: PdlClient): EnrichmentProvider {
  return {
    name: 'pdl',
    maxBatchSize: client.maxBatchSize,
    matching: 'local',
    creditsPerRecord: 1,
    fills: PDL_FILLS,
    async matchBusinesses(domains) {
      return domains.map((domain) => ({ domain, businessId: domain }));
    },
    async enrichFirmographics(domains, call) {
      const results = await client.enrichCompanies(domains, call);
      const byDomain = new Map<string, Firmographics | ItemError>();
      for (const r of results) {
        if (r.status === 'matched') byDomain.set(r.domain, r.firmographics);
        else if (r.status === 'error') byDomain.set(r.domain, { error: r.error });
        else if (r.status !== 'not_found') byDomain.set(r.domain, notAnswered(r));
        // Not found: left out, which the batcher reads as nothing known.
      }
      return byDomain;
    },
  };
}
