/**
 * The one reader of the environment. Every setting is declared here once, with its default and
 * a description (the README's table and `.env.example` list the same keys; a test keeps them in step).
 * Parsed once by the entry point and passed down; a bad value stops start-up listing every bad key.
 */

import { isIP } from 'node:net';
import { OrgId, PROVIDER_NAMES, type ProviderName } from '@gtm-enrich/contracts';
import { z } from 'zod';
import { KEY_GRAMMAR, looksLikeApiKey, MIN_KEY_LENGTH } from './auth/api-keys';
import { TRACES_SAMPLERS } from './observability/tracing';

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const int = (def: number) => z.coerce.number().int().default(def);

/**
 * A URL whose scheme is one of `schemes` (with the colon). The value itself never appears in the
 * message: a database or Redis URL carries its password.
 */
function urlWithScheme(schemes: readonly string[]) {
  const expected = schemes.map((s) => `${s}//`).join(' or ');
  return z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be a ${expected} URL; the value set is not a URL` });
      return;
    }
    if (!schemes.includes(url.protocol)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a ${expected} URL, not ${url.protocol}//`,
      });
    }
  });
}

const HTTP_SCHEMES = ['http:', 'https:'] as const;

/** Names proxy-addr (Fastify's trustProxy) knows for address ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(item: string): boolean {
  if (PROXY_RANGE_NAMES.has(item)) return true;
  const [address = '', bits, extra] = item.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: which peers may say who the client is (X-Forwarded-For). Nobody by default: a
 * client talking to the API directly could otherwise pick its own address (its rate-limit bucket,
 * its audit address). Hops (`1`) or the proxies' addresses and ranges.
 */
const trustProxy = z
  .string()
  .trim()
  .default('')
  .transform((v, ctx): false | number | string[] => {
    if (v === '') return false;
    if (/^\d+$/.test(v)) return Number(v);
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = items.filter((s) => !isProxyAddress(s));
    if (bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `TRUST_PROXY must be a number of hops or addresses/CIDRs (or loopback, linklocal, uniquelocal), comma-separated; not ${bad.join(', ')}`,
      });
      return z.NEVER;
    }
    return items;
  });

/** An address a DNS resolver listens on: `ip`, `ip:port`, `ipv6` or `[ipv6]:port`. */
function isDnsServer(item: string): boolean {
  if (isIP(item) !== 0) return true;
  const withPort = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(item);
  if (!withPort) return false;
  const [, v6, v4, port] = withPort;
  const family = v6 !== undefined ? isIP(v6) === 6 : isIP(v4 ?? '') === 4;
  return family && Number(port) >= 1 && Number(port) <= 65535;
}

const csvList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );

export const ConfigSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'])
    .default('development')
    .describe('Runtime environment'),
  HOST: z
    .string()
    .default('127.0.0.1')
    .describe('Interface the HTTP server listens on (0.0.0.0 in containers)'),
  PORT: int(3000)
    .pipe(z.number().min(0).max(65535))
    .describe('HTTP port of the API (and the page in embedded mode)'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Log level'),
  LOG_FORMAT: z
    .enum(['pretty', 'json'])
    .optional()
    .describe('Log format; default pretty in development, json otherwise'),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString
    .pipe(urlWithScheme(HTTP_SCHEMES).optional())
    .describe(
      'OpenTelemetry collector base URL for traces over OTLP/HTTP JSON (spans go to <url>/v1/traces); unset = no tracing',
    ),
  OTEL_TRACES_SAMPLER: z
    .enum(TRACES_SAMPLERS)
    .default('parentbased_always_on')
    .describe(
      "Which traces are kept: always_on, always_off, traceidratio, or parentbased_* (a task follows its upload's decision)",
    ),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(1)
    .describe('The share of traces kept by traceidratio and parentbased_traceidratio (0 to 1)'),
  OTEL_BSP_SCHEDULE_DELAY: int(2_000)
    .pipe(z.number().min(0))
    .describe('Longest time a finished span waits to be sent with others, in ms'),
  OTEL_BSP_MAX_QUEUE_SIZE: int(2_048)
    .pipe(z.number().min(1))
    .describe(
      'Finished spans held for export; past it new spans are dropped (a big job is split into traces of 1,000 rows)',
    ),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: int(512)
    .pipe(z.number().min(1))
    .describe('Spans sent in one export request'),
  OTEL_BSP_EXPORT_TIMEOUT: int(30_000)
    .pipe(z.number().min(1))
    .describe('Time an export request may take, in ms'),
  OTEL_RESOURCE_ATTRIBUTES: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const attributes: Record<string, string> = {};
      for (const item of v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')) {
        const eq = item.indexOf('=');
        if (eq <= 0) {
          ctx.addIssue({
            code: 'custom',
            message: `OTEL_RESOURCE_ATTRIBUTES must be key=value pairs, comma-separated; not ${item}`,
          });
          return z.NEVER;
        }
        attributes[item.slice(0, eq).trim()] = decodeURIComponent(item.slice(eq + 1).trim());
      }
      return attributes;
    })
    .describe(
      'Extra resource attributes on every span, key=value comma-separated (deployment.environment.name=prod)',
    ),
  OTEL_SERVICE_NAME: optionalString.describe(
    "service.name on this process's spans; default gtm-enrich-api, gtm-enrich-worker or gtm-enrich (embedded)",
  ),
  READINESS_TIMEOUT_MS: int(2_000)
    .pipe(z.number().min(100))
    .describe(
      'How long each /readyz check (database, queue) may take before it counts as failed and /readyz answers 503',
    ),
  METRICS_PORT: int(9464)
    .pipe(z.number().min(0).max(65535))
    .describe(
      "Port of every process's operations listener: /metrics, /healthz, /readyz (never on PORT, which faces users; keep it private); 0 = any free port",
    ),

  BOOTSTRAP_API_KEY: optionalString
    .pipe(
      z
        .string()
        .min(MIN_KEY_LENGTH, `BOOTSTRAP_API_KEY must be at least ${MIN_KEY_LENGTH} characters`)
        // Authentication accepts only this grammar: a key outside it would be created and then refused on every request.
        .refine(looksLikeApiKey, `BOOTSTRAP_API_KEY must be an API key: ${KEY_GRAMMAR}`)
        .optional(),
    )
    .describe(
      'An admin API key made sure to exist at start, in BOOTSTRAP_ORG_ID (compose, demos, tests); 32 to 256 letters, digits or _ - . ~ + / =, e.g. `openssl rand -base64 32`',
    ),
  OPERATOR_API_KEY: optionalString
    .pipe(
      z
        .string()
        .min(MIN_KEY_LENGTH, `OPERATOR_API_KEY must be at least ${MIN_KEY_LENGTH} characters`)
        .refine(looksLikeApiKey, `OPERATOR_API_KEY must be an API key: ${KEY_GRAMMAR}`)
        .optional(),
    )
    .describe(
      'Opens the queue dashboard (/admin/queues) on the API port too, for operators only (no organization key does); unset = the dashboard is served only on the private METRICS_PORT listener',
    ),
  BOOTSTRAP_ORG_ID: OrgId.default('default').describe(
    "Organization of BOOTSTRAP_API_KEY and of npm start's first-run key; created if missing",
  ),
  API_RATE_LIMIT_PER_MIN: int(1200)
    .pipe(z.number().min(0))
    .describe(
      'Requests a minute per API key (per address without one) before 429; shared through Redis when REDIS_URL is set; 0 = off',
    ),
  TRUST_PROXY: trustProxy.describe(
    'Proxies whose X-Forwarded-For names the client (rate limit per address, audit addresses): a number of hops, or addresses/CIDRs comma-separated (loopback, uniquelocal…); unset = none, the peer is the client',
  ),
  HTTP_REQUEST_TIMEOUT_MS: int(15 * 60_000)
    .pipe(z.number().min(0))
    .describe(
      'Time a client has to send a whole request, body included (a 200 MB upload on a slow link); 0 = none',
    ),
  HTTP_IDLE_TIMEOUT_MS: int(120_000)
    .pipe(z.number().min(0))
    .describe('A connection with no traffic for this long is closed; 0 = never'),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().replace(/\/+$/, ''))
        .filter((s) => s !== ''),
    )
    .pipe(
      z.array(
        z.url({
          protocol: /^https?$/,
          message: 'CORS_ORIGINS must list http(s) origins such as https://app.example.com',
        }),
      ),
    )
    .describe('Origins allowed to call the API from a browser, comma-separated; unset = same origin only'),

  DATA_DIR: z
    .string()
    .default('./data')
    .describe('Where the embedded PostgreSQL keeps its files (embedded mode only)'),
  EMBEDDED_POSTGRES_PORT: int(54329).describe(
    'Loopback port of the embedded PostgreSQL (embedded mode only)',
  ),
  DATABASE_URL: optionalString
    .pipe(urlWithScheme(['postgres:', 'postgresql:']).optional())
    .describe('PostgreSQL URL; unset in embedded mode, which starts its own PostgreSQL'),
  MIGRATE_ON_START: z
    .stringbool()
    .default(true)
    .describe(
      'Apply database migrations at start (under a lock); false where a separate step migrates first (compose, rolling deploys): the process then refuses a schema older than its code',
    ),
  DATABASE_POOL_SIZE: int(10).pipe(z.number().min(1)).describe('Connections per process'),
  REDIS_URL: optionalString
    .pipe(urlWithScheme(['redis:', 'rediss:']).optional())
    .describe('Redis URL; when set, tasks go through BullMQ instead of the in-process queue'),
  QUEUE_PREFIX: z.string().default('gtm-enrich').describe('Prefix of every Redis key the queue writes'),

  ENRICHMENT_PROVIDERS: z
    .string()
    .default('auto')
    .transform((v, ctx) => {
      if (v.trim() === 'auto') return 'auto' as const;
      const names = v.split(',').map((p) => p.trim());
      const unknown = names.filter((p) => !(PROVIDER_NAMES as readonly string[]).includes(p));
      if (unknown.length > 0 || names.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown provider ${unknown.map((p) => `"${p}"`).join(', ')}: name some of ${PROVIDER_NAMES.join(', ')}, comma-separated, or auto`,
        });
        return z.NEVER;
      }
      if (new Set(names).size !== names.length) {
        ctx.addIssue({ code: 'custom', message: 'name each provider once' });
        return z.NEVER;
      }
      return names as ProviderName[];
    })
    .describe(
      'The default waterfall, in order (e.g. explorium,pdl,web): each provider is asked only for fields the ones ' +
        'before it left empty. auto = explorium (with EXPLORIUM_API_KEY), then pdl (with PDL_API_KEY), then the keyless ' +
        'web provider when public names resolve (checked at start); without any of them, the sandbox (synthetic data)',
    ),
  EXPLORIUM_API_KEY: optionalString.describe(
    'Explorium API key; unset = the built-in sandbox with synthetic data',
  ),
  EXPLORIUM_BASE_URL: urlWithScheme(HTTP_SCHEMES)
    .default('https://api.explorium.ai')
    .describe('Explorium API base URL'),
  SANDBOX_URL: optionalString
    .pipe(urlWithScheme(HTTP_SCHEMES).optional())
    .describe('Use a sandbox already running there instead of starting one in-process (no key set)'),
  EXPLORIUM_RATE_LIMIT: int(200)
    .pipe(z.number().min(1))
    .describe('Explorium calls (or records) a minute per key, shared by every worker'),
  EXPLORIUM_RATE_LIMIT_UNIT: z
    .enum(['request', 'record'])
    .default('record')
    .describe(
      'What the rate limit counts: a bulk call of 50 as 1 (request) or as 50 (record, the safe default)',
    ),
  PDL_API_KEY: optionalString.describe('People Data Labs API key; unset = PDL is not used'),
  PDL_BASE_URL: urlWithScheme(HTTP_SCHEMES)
    .default('https://api.peopledatalabs.com')
    .describe('People Data Labs API base URL (or the PDL emulator)'),
  PDL_RATE_LIMIT_PER_MIN: int(100)
    .pipe(z.number().min(1))
    .describe('People Data Labs bulk calls a minute per key, shared by every worker'),
  PDL_MIN_LIKELIHOOD: int(5)
    .pipe(z.number().min(1).max(10))
    .describe(
      'Weakest People Data Labs match taken (likelihood 1 to 10); weaker ones come back not found and cost nothing',
    ),
  ENRICHMENT_CACHE_TTL_DAYS: z.coerce
    .number()
    .min(0)
    .default(30)
    .describe('How long a provider result is reused across jobs (0 = never)'),
  ENRICHMENT_CACHE_NO_MATCH_TTL_DAYS: z.coerce
    .number()
    .min(0)
    .default(7)
    .describe('How long a "no match" is reused across jobs (0 = never)'),
  ENRICHMENT_CACHE_SCOPE: z
    .enum(['org', 'installation'])
    .default('org')
    .describe(
      'Who an enrichment-cache entry answers: the organization that paid for it (org), or every organization of this installation (installation: shared, so one learns what another looked up)',
    ),
  HTTPS_PROXY: optionalString
    .pipe(urlWithScheme(HTTP_SCHEMES).optional())
    .describe(
      'Egress proxy for provider calls to https URLs (Explorium); https_proxy is read too; unset = direct. The sandbox is always called directly',
    ),
  HTTP_PROXY: optionalString
    .pipe(urlWithScheme(HTTP_SCHEMES).optional())
    .describe('Egress proxy for provider calls to http URLs; http_proxy is read too; unset = direct'),
  NO_PROXY: optionalString.describe(
    'Hosts provider calls reach directly despite a proxy, comma-separated (example.com, .example.com, 10.0.0.1, *); no_proxy is read too',
  ),
  PROVIDER_TIMEOUT_MS: int(30_000).pipe(z.number().min(100)).describe('Timeout of one provider HTTP call'),
  PROVIDER_BATCH_WINDOW_MS: int(100)
    .pipe(z.number().min(0))
    .describe('How long the worker waits to fill a provider batch (up to 50) before calling'),

  WORKER_CONCURRENCY: int(100)
    .pipe(z.number().min(1))
    .describe(
      'Companies one worker process holds at once per provider it can ask (a waterfall of three: three times ' +
        'this); enough to fill provider batches',
    ),
  DISPATCH_QUEUE_DEPTH: int(2_000)
    .pipe(z.number().min(1))
    .describe('Most tasks waiting in the queue; the dispatcher tops it up fairly across jobs'),
  CLAIM_LEASE_MS: int(30_000)
    .pipe(z.number().min(1_000))
    .describe(
      'How long a claim on a company outlives its worker: the worker renews it while it runs, so after a crash or freeze another takes the company over within this',
    ),
  CLAIM_RENEW_INTERVAL_MS: int(10_000)
    .pipe(z.number().min(100))
    .describe('How often a worker renews the leases of the companies it holds; well under CLAIM_LEASE_MS'),
  SHUTDOWN_GRACE_MS: int(20_000)
    .pipe(z.number().min(0))
    .describe(
      'On SIGTERM, how long a worker finishes the companies it holds before releasing them to the queue',
    ),
  SWEEP_INTERVAL_MS: int(15_000)
    .pipe(z.number().min(1_000))
    .describe('How often a worker re-dispatches what the database says is unfinished (repairs a lost queue)'),
  TASK_MAX_ATTEMPTS: int(8)
    .pipe(z.number().min(1))
    .describe(
      'Attempts per company before it is marked failed; only a provider failing on it (5xx, timeout) spends one, never a rate limit, an open circuit or our own infrastructure',
    ),
  TASK_BACKOFF_BASE_MS: int(1_000)
    .pipe(z.number().min(0))
    .describe('First retry delay; doubles each attempt, with jitter'),
  TASK_BACKOFF_MAX_MS: int(60_000).pipe(z.number().min(0)).describe('Longest retry delay'),

  MAX_UPLOAD_BYTES: int(200 * 1024 * 1024)
    .pipe(z.number().min(1))
    .describe('Largest accepted upload, in bytes'),
  MAX_ROWS: int(1_000_000).pipe(z.number().min(1)).describe('Most data rows accepted in one upload'),
  UPLOAD_INLINE_MAX_ROWS: int(20_000).describe(
    'Uploads of at most this many rows are read before the API answers (with counts and estimate); larger ones are answered once stored and read by a worker',
  ),
  BLOCKED_EMAIL_DOMAINS: csvList.describe(
    'Extra personal email domains to reject, comma-separated (added to the built-in list)',
  ),
  WEB_DIR: optionalString.describe('Built web page to serve at / (default: apps/web/out when it exists)'),

  SANDBOX_PORT: int(4010).describe('Port of `npm run sandbox`'),
  WEBHOOK_RETRY_DELAYS_MS: z
    .string()
    .default('5000,300000,1800000,7200000,18000000,36000000,36000000')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map(Number),
    )
    .pipe(z.array(z.number().int('each delay is a whole number of ms').min(0)).min(1))
    .describe(
      'Webhooks: waits between delivery attempts in ms, comma-separated; after the last one the delivery fails (default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 27 h)',
    ),
  WEBHOOK_TIMEOUT_MS: int(10_000)
    .pipe(z.number().min(100))
    .describe('Webhooks: the whole request to a receiver, from connecting to its answer'),
  WEBHOOK_POLL_INTERVAL_MS: int(1_000)
    .pipe(z.number().min(10))
    .describe('Webhooks: how often a worker looks for deliveries that are due'),
  OUTBOUND_ALLOWED_CIDRS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(
      z.array(
        z.string().refine(
          (c) => {
            const [ip, prefix, extra] = c.split('/');
            const family = isIP(ip ?? '');
            const bits = prefix === undefined ? 0 : Number(prefix);
            return (
              family !== 0 &&
              extra === undefined &&
              Number.isInteger(bits) &&
              bits >= 0 &&
              bits <= (family === 6 ? 128 : 32)
            );
          },
          { message: 'OUTBOUND_ALLOWED_CIDRS must list addresses or CIDR ranges such as 10.1.0.0/16' },
        ),
      ),
    )
    .describe(
      'Private, loopback or link-local ranges that requests to user-given URLs (webhooks, sites the web provider reads) may reach anyway, comma-separated CIDRs (e.g. 10.1.0.0/16); unset = public addresses only',
    ),
  DNS_SERVERS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(
      z.array(
        z.string().refine(isDnsServer, {
          message:
            'DNS_SERVERS must list ip or ip:port ([v6]:port), comma-separated, e.g. 10.0.0.2,1.1.1.1:53',
        }),
      ),
    )
    .describe(
      "DNS servers the web provider asks (MX, TXT, A/AAAA), ip or ip:port ([v6]:port) comma-separated; unset = the system's resolvers",
    ),
  DNS_TIMEOUT_MS: int(3_000)
    .pipe(z.number().min(50))
    .describe('Web provider: time one DNS query may take before it is asked once more, in ms'),
  WEB_CONCURRENCY: int(16)
    .pipe(z.number().min(1))
    .describe('Web provider: domains one process looks up at once (DNS and homepage)'),
  WEB_HOST_CONCURRENCY: int(2)
    .pipe(z.number().min(1))
    .describe('Web provider: visits at once to one host (robots.txt, homepage and its redirects)'),
  WEB_FETCH_TIMEOUT_MS: int(10_000)
    .pipe(z.number().min(100))
    .describe(
      'Web provider: time one homepage may take in all (robots.txt, redirects, HTTPS then HTTP), in ms',
    ),
  WEB_MAX_PAGE_BYTES: int(1024 * 1024)
    .pipe(z.number().min(1024))
    .describe('Web provider: bytes of a homepage read (after decompression); the rest is never downloaded'),
  WEB_CONTACT_URL: optionalString
    .pipe(urlWithScheme(HTTP_SCHEMES).optional())
    .describe(
      'Web provider: a URL of your own, put in its User-Agent (GTM-Enrich/1.0 (+URL)), where site owners learn who reads their homepage and how to reach you; unset = no URL',
    ),
  SANDBOX_LATENCY_MS: int(0).pipe(z.number().min(0)).describe('Sandbox: added latency per call'),
  SANDBOX_ERROR_RATE: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe('Sandbox: share of calls answered 5xx'),
  SANDBOX_RATE_LIMIT_PER_MIN: int(0)
    .pipe(z.number().min(0))
    .describe(
      'Sandbox: requests (or records, SANDBOX_RATE_LIMIT_UNIT) a minute per key before 429 (0 = off)',
    ),
  SANDBOX_RATE_LIMIT_UNIT: z
    .enum(['request', 'record'])
    .default('request')
    .describe(
      'Sandbox: what its limit counts, a call once (request) or each of its items (record); workers pace by it too',
    ),
  SANDBOX_RATE_LIMIT_RESET: z
    .enum(['oldest', 'window'])
    .default('oldest')
    .describe(
      'Sandbox: what X-RateLimit-Reset says, the oldest counted call + 60 s (oldest) or now + 60 s (window)',
    ),
  SANDBOX_OMIT_EMPTY_LISTS: z
    .stringbool()
    .default(false)
    .describe(
      'Sandbox: leave matched_businesses / data out of answers where they would be empty (both optional in the API)',
    ),
  SANDBOX_API_KEY: optionalString.describe('Sandbox: the only key it accepts (unset = any key)'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once; throws ConfigError listing every bad key. A key set to nothing
 * (`PORT=`, a blank line in a compose file) is unset and takes its default: coerced, an empty
 * string would be 0, which for PORT is a random port and for a limit or timeout turns it off.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Renamed when jobs gained a waterfall: ignoring the old name would silently change providers.
  if (env.ENRICHMENT_PROVIDER?.trim()) {
    throw new ConfigError([
      `ENRICHMENT_PROVIDER: renamed ENRICHMENT_PROVIDERS, a list in waterfall order (e.g. ENRICHMENT_PROVIDERS=${env.ENRICHMENT_PROVIDER.trim()} or explorium,web)`,
    ]);
  }
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.shape).map((k) => {
      const value = env[k];
      return [k, value === undefined || value.trim() === '' ? undefined : value];
    }),
  );
  const parsed = ConfigSchema.safeParse(known);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  // A lease renewed no more often than it lasts would lapse under a live worker.
  if (parsed.data.CLAIM_RENEW_INTERVAL_MS * 2 > parsed.data.CLAIM_LEASE_MS) {
    throw new ConfigError([
      `CLAIM_RENEW_INTERVAL_MS: must be at most half of CLAIM_LEASE_MS (${parsed.data.CLAIM_LEASE_MS} ms), got ${parsed.data.CLAIM_RENEW_INTERVAL_MS}`,
    ]);
  }
  return parsed.data;
}

export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as (keyof Config)[];
