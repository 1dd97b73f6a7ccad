/**
 * buildApp: the HTTP surface. Takes services already wired (system.ts) and knows nothing about
 * which database, queue or provider stand behind them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { constants as zlibConstants } from 'node:zlib';
import fastifyCompress from '@fastify/compress';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuthService } from '../auth/auth.service';
import type { JobsService } from '../jobs/jobs.service';
import {
  createRequestLogController,
  type HttpObservability,
  instrumentHttp,
  logIncomingRequests,
} from '../observability/http';
import type { Readiness } from '../observability/readiness';
import type { WebhooksService } from '../webhooks/webhooks.service';
import { registerAudit } from './audit';
import { type Access, registerAuth, routeAccess } from './auth';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './errors';
import { lazyApiReference } from './lazy-api-reference';
import { authRoutes } from './routes/auth';
import { healthRoutes } from './routes/health';
import { jobActionRoutes } from './routes/job-actions';
import { jobRoutes } from './routes/jobs';
import { uploadRoutes } from './routes/uploads';
import { webhookRoutes } from './routes/webhooks';
import { registerInputGuards, registerSecurity } from './security';

export type AppDeps = {
  logger: Logger;
  jobs: JobsService;
  /** /readyz: the database and the queue, each within its deadline. */
  readiness: Readiness;
  maxUploadBytes: number;
  /** A built web page to serve at / (embedded mode); absent = API only. */
  webDir?: string;
  /** Request spans and durations, and the queue dashboard at /admin/queues when there is one. */
  observability?: HttpObservability;
  /** Webhook endpoints and their deliveries (organization admins). */
  webhooks: WebhooksService;
  /** API keys, roles and the audit log: every /api route needs a key (see auth.ts). */
  auth: AuthService;
  /**
   * OPERATOR_API_KEY: the queue dashboard is served on this port too, behind this key only. Absent:
   * not at all here (it is on the private operations listener, METRICS_PORT).
   */
  operatorKey?: string | null;
  limits: {
    /** Requests a minute per API key; 0 = none. */
    rateLimitPerMinute: number;
    /** Shares the rate limit between API processes; absent = per process. */
    rateLimitRedis?: Redis | null;
    rateLimitNamespace?: string;
    /** Fastify `requestTimeout`: the whole request, body included, must arrive within it (uploads!). */
    requestTimeoutMs: number;
    /** Fastify `connectionTimeout`: a socket idle this long is closed. */
    idleTimeoutMs: number;
    /** Origins allowed to call the API from a browser; empty = same origin only. */
    corsOrigins: string[];
    /** Fastify `trustProxy` (TRUST_PROXY): whose X-Forwarded-For gives `req.ip`; false = the peer's address. */
    trustProxy?: false | number | string[];
  };
};

const API_PREFIX = '/api/v1';
const DOCS_PREFIX = '/docs';
const BEARER_SCHEME = 'bearerAuth';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    // Probes log at debug, and request lines carry the trace_id (observability/http.ts).
    logController: createRequestLogController(),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    requestTimeout: deps.limits.requestTimeoutMs,
    connectionTimeout: deps.limits.idleTimeoutMs,
    trustProxy: trustProxyOption(deps.limits.trustProxy ?? false),
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const webDir =
    deps.webDir && existsSync(path.join(deps.webDir, 'index.html')) ? path.resolve(deps.webDir) : null;
  registerErrorHandling(app, {
    maxUploadBytes: deps.maxUploadBytes,
    serveWebShell: webDir ? webShell(webDir) : undefined,
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  // First: every request, refused ones too, is timed, traced and logged.
  if (deps.observability) await instrumentHttp(app, deps.observability);
  logIncomingRequests(app);
  // Before any route: headers on every answer (401s too), and the auth hooks see every route.
  await registerSecurity(app, { webDir, corsOrigins: deps.limits.corsOrigins, docsPrefix: DOCS_PREFIX });
  registerInputGuards(app);
  await registerAuth(app, {
    auth: deps.auth,
    operatorKey: deps.operatorKey,
    rateLimitPerMinute: deps.limits.rateLimitPerMinute,
    rateLimitRedis: deps.limits.rateLimitRedis,
    rateLimitNamespace: deps.limits.rateLimitNamespace,
  });
  registerAudit(app, deps.auth);
  // Before the routes (it hooks each route as it is added). JSON and CSV compress 5-10x; brotli at
  // quality 4 costs about what gzip does (its default, 11, is far slower). Request bodies are not
  // inflated: an upload's size limit counts the bytes sent.
  await app.register(fastifyCompress, {
    encodings: ['br', 'gzip'],
    brotliOptions: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } },
    globalDecompression: false,
  });
  // Every organization's tasks and the Redis server itself: for operators, never for a tenant's key.
  const dashboard = deps.observability?.queueDashboard;
  if (dashboard && deps.operatorKey) await app.register(dashboard.plugin, { prefix: dashboard.prefix });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'GTM Enrich API',
        version: '1',
        license: { name: 'MIT', identifier: 'MIT' },
        description:
          'Upload a CSV of company domains, follow the job, read and export firmographics. ' +
          'Every error has the shape { error: { code, message, details?, request_id } }. ' +
          'Every /api route needs an API key: `Authorization: Bearer <key>`; the key says which organization ' +
          'and role (viewer: read; member: also upload, resume, cancel, retry, export; admin: also keys and the audit log).',
      },
      // Relative: the document is served by the API it describes, wherever that is deployed.
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API key (`gtm_…`): `npm run cli -- key create`, or POST /api/v1/keys as an admin',
          },
        },
      },
      tags: [
        { name: 'uploads', description: 'Start a job from a CSV' },
        { name: 'jobs', description: 'Follow jobs and read their companies' },
        { name: 'auth', description: 'Who am I, API keys and the audit log' },
        {
          name: 'webhooks',
          description: 'Signed notifications when a job completes, fails, pauses or is cancelled',
        },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
    transformObject: (input) => withoutUnusedSchemas(jsonSchemaTransformObject(input)),
    transform: (input) => {
      const access = routeAccess(
        String(input.route.method),
        input.url,
        (input.route.config as { access?: Access } | undefined)?.access,
      );
      const out = withErrorResponses(
        withSecurity(jsonSchemaTransform(input), access),
        access,
        String(input.route.method).toUpperCase(),
      );
      if (!out.schema.hide && !(out.schema as { operationId?: unknown }).operationId) {
        // Generated clients name their methods after it: every route names itself, once, for good.
        throw new Error(`${String(input.route.method)} ${input.url} has no operationId in its schema`);
      }
      // A streamed multipart body is read by the handler, not validated by a schema; describe it for the docs only.
      if (input.url === `${API_PREFIX}/uploads`) {
        return {
          ...out,
          schema: {
            ...out.schema,
            // Read by the handler (routes/uploads.ts); declared so that generated clients can send it.
            headers: {
              type: 'object',
              properties: {
                'idempotency-key': {
                  type: 'string',
                  pattern: '^[\\x21-\\x7e]{1,255}$',
                  description:
                    'Retry safely: the same key with the same request returns the first response ' +
                    '(Idempotent-Replayed: true) and creates no second job; with another request, 422',
                },
              },
            },
            body: {
              type: 'object',
              required: ['file'],
              properties: {
                org_id: {
                  type: 'string',
                  description: "Optional: the API key's organization (another one is answered 403)",
                },
                domain_column: {
                  type: 'string',
                  description: 'Column holding the domains (default: detected); before or after the file',
                },
                header_row: {
                  type: 'integer',
                  minimum: 1,
                  description:
                    'The line holding the header, when titles sit above it (default: detected); before the file',
                },
                force_refresh: {
                  type: 'boolean',
                  description: 'Ask the provider again even for cached domains',
                },
                max_credits: {
                  type: 'integer',
                  minimum: 1,
                  description: 'Pause the job at this many credits',
                },
                start: {
                  type: 'boolean',
                  description:
                    'false: the job is made with its estimate and waits (paused, AWAITING_START) until POST /jobs/{id}/resume',
                },
                providers: {
                  type: 'string',
                  description:
                    'Providers to ask, in order, comma-separated; one this server does not have is refused (400)',
                },
                file: { type: 'string', format: 'binary', description: 'The CSV file' },
              },
            },
          },
        };
      }
      return out;
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  await app.register(
    lazyApiReference({
      routePrefix: DOCS_PREFIX,
      // No fonts from Scalar's CDN: the page's Content-Security-Policy allows our own origin only.
      configuration: { url: '/openapi.json', withDefaultFonts: false },
    }),
  );

  await app.register(fastifyMultipart, {
    limits: { fileSize: deps.maxUploadBytes, files: 1, fields: 10, fieldSize: 1024 },
  });

  await app.register(healthRoutes, { readiness: deps.readiness });
  await app.register(
    async (api) => {
      await api.register(uploadRoutes, { jobs: deps.jobs, maxUploadBytes: deps.maxUploadBytes });
      await api.register(jobRoutes, { jobs: deps.jobs });
      await api.register(authRoutes, { auth: deps.auth });
      await api.register(jobActionRoutes, { jobs: deps.jobs });
      await api.register(webhookRoutes, { webhooks: deps.webhooks });
    },
    { prefix: API_PREFIX },
  );

  if (webDir) await registerWeb(app, webDir);
  return app;
}

/** Fastify's types take no hop count, its runtime does the same with a function: trust the nearest `hops` peers. */
function trustProxyOption(given: false | number | string[]) {
  return typeof given === 'number' ? (_address: string, hop: number) => hop < given : given;
}

/** What each error status means, wherever it is answered; the body is always ErrorBody. */
const ERROR_RESPONSES: Record<number, string> = {
  400: 'The request is not valid (a field, a parameter, the URL): `error.message` says which and why',
  401: 'No API key, or one that is malformed, unknown or revoked (`WWW-Authenticate: Bearer`)',
  403: "The API key's role may not do this, or `org_id` names another organization",
  404: 'Not found in the organization of the API key',
  409: 'The resource is not in a state that allows this: `error.message` says what it is in',
  413: 'The file or body is larger than this server accepts',
  415: 'The body is not of a type this endpoint reads',
  422: 'The request is well-formed but cannot be done as asked: `error.code` says why',
  429: 'Too many requests for this API key: wait for `Retry-After` seconds',
  500: 'Something failed on the server; `error.request_id` finds it in the log',
  503: 'A service the server needs is not reachable right now; try again',
};

/**
 * Every operation declares what it can answer: its own 4xx, plus 400 (any URL can be malformed)
 * and 500 for all, 401, 403 and 429 for those that need a key, and 413 and 415 for every method
 * that can carry a body. Each error response is described and points to the one ErrorBody schema.
 */
function withErrorResponses<T extends { schema: object }>(out: T, access: Access, method: string): T {
  const schema = out.schema as { hide?: boolean; response?: Record<string, unknown> };
  if (schema.hide) return out;
  const response: Record<string, unknown> = { ...schema.response };
  const statuses = new Set([400, 500, ...(access === 'public' ? [] : [401, 403, 429])]);
  // Whatever a route reads, a request body can be larger than the server takes or of a type it cannot parse.
  if (!['GET', 'HEAD'].includes(method)) for (const status of [413, 415]) statuses.add(status);
  for (const code of Object.keys(response)) if (Number(code) >= 400) statuses.add(Number(code));
  for (const status of statuses) {
    const own = response[String(status)] as { $ref?: string } | undefined;
    // A route with its own error schema (readiness's 503 body) keeps it.
    if (own && own.$ref !== ERROR_BODY_REF) continue;
    response[String(status)] = {
      description: ERROR_RESPONSES[status] ?? 'An error',
      content: { 'application/json': { schema: { $ref: ERROR_BODY_REF } } },
    };
  }
  const sorted = Object.fromEntries(Object.entries(response).sort(([a], [b]) => a.localeCompare(b)));
  return { ...out, schema: { ...schema, response: sorted } };
}

const ERROR_BODY_REF = '#/components/schemas/ErrorBody';

/**
 * Components that no operation reaches are dropped: the schema registry yields an input and an
 * output form of every named schema, and only one of them is used.
 */
function withoutUnusedSchemas<T extends object>(doc: T): T {
  const components = (doc as { components?: { schemas?: Record<string, unknown> } }).components;
  const schemas = components?.schemas;
  if (!schemas) return doc;
  const refs = (value: unknown) =>
    [...JSON.stringify(value).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
  const kept = new Set<string>();
  const pending = refs({ ...doc, components: { ...components, schemas: {} } });
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (kept.has(name)) continue;
    kept.add(name);
    pending.push(...refs(schemas[name]));
  }
  const used = Object.fromEntries(Object.entries(schemas).filter(([name]) => kept.has(name)));
  // The same document with fewer schemas: its type is the one it came with.
  return { ...doc, components: { ...components, schemas: used } } as T;
}

/** Per-route security in the OpenAPI document: public routes need nothing, the rest a bearer key of a role. */
function withSecurity<T extends { schema: object }>(out: T, access: Access): T {
  if (access === 'public') return { ...out, schema: { ...out.schema, security: [] } };
  const given = (out.schema as { description?: unknown }).description;
  const description = typeof given === 'string' ? `${given}\n\n` : '';
  return {
    ...out,
    schema: {
      ...out.schema,
      security: [{ [BEARER_SCHEME]: [] }],
      description: `${description}Needs an API key with the **${access}** role or above.`,
    },
  };
}

async function registerWeb(app: FastifyInstance, webDir: string): Promise<void> {
  // The page is a static export with one <page>/index.html per page (Next's trailingSlash), so a
  // page path without its slash is a directory: `redirect` sends /jobs to /jobs/ (query kept).
  await app.register(fastifyStatic, { root: webDir, extensions: ['html'], wildcard: true, redirect: true });
}

/** An unknown page path gets the export's "page not found" page; API paths keep JSON 404s. */
function webShell(webDir: string) {
  const notFoundPage = existsSync(path.join(webDir, '404.html')) ? '404.html' : 'index.html';
  return (req: FastifyRequest, reply: FastifyReply): boolean => {
    if (req.method !== 'GET' || req.url.startsWith('/api/') || !req.headers.accept?.includes('text/html')) {
      return false;
    }
    void reply.status(404).type('text/html').sendFile(notFoundPage);
    return true;
  };
}
