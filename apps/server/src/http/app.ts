/**
 * buildApp: the HTTP surface. Takes services already wired (system.ts) and knows nothing about
 * which database, queue or provider stand behind them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import scalarApiReference from '@scalar/fastify-api-reference';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuthService } from '../auth/auth.service';
import type { JobsService } from '../jobs/jobs.service';
import { type HttpObservability, instrumentHttp } from '../observability/http';
import { registerAudit } from './audit';
import { type Access, registerAuth, routeAccess } from './auth';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './errors';
import { authRoutes } from './routes/auth';
import { healthRoutes, type ReadinessCheck } from './routes/health';
import { jobActionRoutes } from './routes/job-actions';
import { jobRoutes } from './routes/jobs';
import { uploadRoutes } from './routes/uploads';
import { registerInputGuards, registerSecurity } from './security';

export type AppDeps = {
  logger: Logger;
  jobs: JobsService;
  readiness: Record<string, ReadinessCheck>;
  maxUploadBytes: number;
  /** A built web page to serve at / (embedded mode); absent = API only. */
  webDir?: string;
  /** Request spans and durations, and the queue dashboard at /admin/queues when there is one. */
  observability?: HttpObservability;
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
  if (deps.observability) await instrumentHttp(app, deps.observability);
  // Every organization's tasks and the Redis server itself: for operators, never for a tenant's key.
  const dashboard = deps.observability?.queueDashboard;
  if (dashboard && deps.operatorKey) await app.register(dashboard.plugin, { prefix: dashboard.prefix });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'GTM Enrich API',
        version: '1',
        description:
          'Upload a CSV of company domains, follow the job, read and export firmographics. ' +
          'Every error has the shape { error: { code, message, details?, request_id } }. ' +
          'Every /api route needs an API key: `Authorization: Bearer <key>`; the key says which organization ' +
          'and role (viewer: read; member: also upload, resume, cancel, retry, export; admin: also keys and the audit log).',
      },
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
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
    transform: (input) => {
      const out = withSecurity(
        jsonSchemaTransform(input),
        routeAccess(
          String(input.route.method),
          input.url,
          (input.route.config as { access?: Access } | undefined)?.access,
        ),
      );
      // A streamed multipart body is read by the handler, not validated by a schema; describe it for the docs only.
      if (input.url === `${API_PREFIX}/uploads`) {
        return {
          ...out,
          schema: {
            ...out.schema,
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
                  description: 'Column holding the domains (default: detected)',
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
  await app.register(scalarApiReference, {
    routePrefix: DOCS_PREFIX,
    // No fonts from Scalar's CDN: the page's Content-Security-Policy allows our own origin only.
    configuration: { url: '/openapi.json', withDefaultFonts: false },
  });

  await app.register(fastifyMultipart, {
    limits: { fileSize: deps.maxUploadBytes, files: 1, fields: 10, fieldSize: 1024 },
  });

  await app.register(healthRoutes, { checks: deps.readiness });
  await app.register(
    async (api) => {
      await api.register(uploadRoutes, { jobs: deps.jobs, maxUploadBytes: deps.maxUploadBytes });
      await api.register(jobRoutes, { jobs: deps.jobs });
      await api.register(authRoutes, { auth: deps.auth });
      await api.register(jobActionRoutes, { jobs: deps.jobs });
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
