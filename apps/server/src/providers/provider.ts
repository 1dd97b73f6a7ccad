/**
 * The port every enrichment provider implements, and the one error type it raises.
 * Callers decide what to do from `kind` alone, never from HTTP statuses.
 */
import {
  type EnrichedField,
  FIRMOGRAPHIC_FIELDS as FIRMOGRAPHIC_COLUMNS,
  type ProviderName,
} from '@gtm-enrich/contracts';

/** Firmographics mapped to our own field names. Every field is optional: providers know little about some companies. */
export type Firmographics = {
  name: string | null;
  industry: string | null;
  companySize: string | null;
  /** "Unknown" when the provider has no revenue band. */
  revenueRange: string;
  country: string | null;
  region: string | null;
  city: string | null;
  website: string | null;
  linkedinUrl: string | null;
  description: string | null;
  /** What a provider knows beyond firmographics (the web provider: DNS and homepage signals). */
  signals?: CompanySignals | null;
  /** The provider's confidence that this is the company asked for, 0–1 (PDL: likelihood / 10); absent when it gives none. */
  matchConfidence?: number | null;
};

/** Signals about how a company works, each as the provider found it. */
export type CompanySignals = {
  /** From the domain's MX records: Google Workspace, Microsoft 365, Self-hosted… */
  emailProvider: string | null;
  /** Tools in use, from DNS (SPF, TXT verifications) and the homepage (HTML, headers), by category. */
  technologies: { name: string; category: string }[];
  logoUrl: string | null;
  foundedYear: number | null;
  employeeCount: number | null;
  /** Profile URLs by network (linkedin, twitter, github, crunchbase, facebook). */
  socialProfiles: Record<string, string>;
};

/** A per-item failure reported inside an otherwise successful call: only that item's company fails. */
export type ItemError = { error: { type: string; message: string } };

export function isItemError(value: unknown): value is ItemError {
  return typeof value === 'object' && value !== null && 'error' in value;
}

export type MatchResult =
  | { domain: string; businessId: string }
  | { domain: string; businessId: null }
  /** A per-item failure reported inside an otherwise successful call. */
  | { domain: string; businessId: null; error: { type: string; message: string } };

/** Per call: cancellation, and a hook told what the call sends right before it leaves. */
export type CallOptions = {
  signal?: AbortSignal;
  /**
   * Called once the call is about to leave (after any rate-limit wait), with the items it sends;
   * the call waits for it. A throw means the call is not made.
   */
  beforeSend?: (keys: readonly string[]) => Promise<void>;
};

/** Every provider this server knows (provider-stack.ts says what each needs). */
export type { EnrichedField, ProviderName };

/** What the batcher and the ledger need to know about a provider besides its calls. */
export type ProviderTraits = {
  /** Label shown to users: "sandbox" means synthetic data. */
  readonly name: ProviderName;
  /** Largest batch one call accepts (Explorium: 50, People Data Labs: 100). */
  readonly maxBatchSize: number;
  /**
   * `call`: matching is a request to the provider's API, counted toward its limit and kept in the
   * ledger (Explorium). `local`: matching asks nothing billed or rate-limited of the provider
   * (People Data Labs enriches by domain in one step; the web provider looks the name up in
   * DNS), so it is neither paced nor kept in the ledger, and a business the enrichment step
   * answers nothing for was not found.
   */
  readonly matching: 'call' | 'local';
  /** Credits a record returned with data costs (0: a free provider, whose calls reserve nothing). */
  readonly creditsPerRecord: number;
  /**
   * The fields it can fill. In a waterfall it is asked only for companies with one of these still
   * empty, so nothing is paid for what is already known.
   */
  readonly fills: readonly EnrichedField[];
};

/** The firmographic columns a paid provider fills. */
export const FIRMOGRAPHIC_FIELDS: readonly EnrichedField[] = FIRMOGRAPHIC_COLUMNS;

/** A wrapper's traits are those of the provider it wraps. */
export function traitsOf(provider: ProviderTraits): ProviderTraits {
  return {
    name: provider.name,
    maxBatchSize: provider.maxBatchSize,
    matching: provider.matching,
    creditsPerRecord: provider.creditsPerRecord,
    fills: provider.fills,
  };
}

export type EnrichmentProvider = ProviderTraits & {
  /** Same length and order as `domains`. */
  matchBusinesses(domains: readonly string[], call?: CallOptions): Promise<MatchResult[]>;
  /**
   * Keyed by business id; a matched business with nothing known maps to null, one the provider
   * failed on to an ItemError; absent ids are missing from the map.
   */
  enrichFirmographics(
    businessIds: readonly string[],
    call?: CallOptions,
  ): Promise<Map<string, Firmographics | null | ItemError>>;
};

/**
 * - permanent: this request will never succeed (400, 422, bad item); do not retry.
 * - transient: 5xx, timeouts, network; retry with backoff.
 * - rate_limited: 429; retry after `retryAfterMs`.
 * - auth: 401, the key is wrong; a configuration problem for the whole job.
 * - quota: 403, out of credits; a configuration problem for the whole job.
 */
export type ProviderErrorKind = 'permanent' | 'transient' | 'rate_limited' | 'auth' | 'quota';

export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly status: number | null;
  readonly retryAfterMs: number | null;
  readonly correlationId: string | null;
  readonly endpoint: string | null;
  /** False when no call reached the provider (the circuit was open): the company spent nothing. */
  readonly countsAsAttempt: boolean;
  /**
   * Whether the request may have reached the provider (and so may count toward its limit and
   * bill): true when a status came back or the request was sent and no answer came in time; false
   * when nothing left this process (circuit open, connection refused, name not resolved). The
   * credit ledger records a call only when this is true, so it matches the provider's own count.
   */
  readonly reachedProvider: boolean;

  constructor(
    kind: ProviderErrorKind,
    message: string,
    opts: {
      status?: number | null;
      retryAfterMs?: number | null;
      correlationId?: string | null;
      endpoint?: string | null;
      countsAsAttempt?: boolean;
      reachedProvider?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'ProviderError';
    this.kind = kind;
    this.status = opts.status ?? null;
    this.retryAfterMs = opts.retryAfterMs ?? null;
    this.correlationId = opts.correlationId ?? null;
    this.endpoint = opts.endpoint ?? null;
    this.countsAsAttempt = opts.countsAsAttempt ?? true;
    this.reachedProvider = opts.reachedProvider ?? true;
  }

  /** A stable code for storing on a company or job, e.g. PROVIDER_TRANSIENT. */
  get code(): string {
    return `PROVIDER_${this.kind.toUpperCase()}`;
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}
