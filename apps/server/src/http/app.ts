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
import type { Logger } from 'pino';
import type { JobsService } from '../jobs/jobs.service';
import type { UploadReader } from '../jobs/read-upload';
import { type HttpObservability, instrumentHttp } from '../observability/http';
import { registerErrorHandling } from './errors';
import { healthRoutes, type ReadinessCheck } from './routes/health';
import { jobRoutes } from './routes/jobs';
import { uploadRoutes } from './routes/uploads';

export type AppDeps = {
  logger: Logger;
  jobs: JobsService;
  uploads: UploadReader;
  readiness: Record<string, ReadinessCheck>;
  maxUploadBytes: number;
  /** A built web page to serve at / (embedded mode); absent = API only. */
  webDir?: string;
  /** Request spans and durations, /metrics, and the queue dashboard at /admin/queues when there is one. */
  observability?: HttpObservability;
};

const API_PREFIX = '/api/v1';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
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
  if (deps.observability) await instrumentHttp(app, deps.observability);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'GTM Enrich API',
        version: '1',
        description:
          'Upload a CSV of company domains, follow the job, read and export firmographics. ' +
          'Every error has the shape { error: { code, message, details?, request_id } }.',
      },
      tags: [
        { name: 'uploads', description: 'Start a job from a CSV' },
        { name: 'jobs', description: 'Follow jobs and read their companies' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      // A streamed multipart body is read by the handler, not validated by a schema; describe it for the docs only.
      if (input.url === `${API_PREFIX}/uploads`) {
        return {
          ...out,
          schema: {
            ...out.schema,
            body: {
              type: 'object',
              required: ['org_id', 'file'],
              properties: {
                org_id: { type: 'string', description: 'Organization id, e.g. acme' },
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
  await app.register(scalarApiReference, { routePrefix: '/docs', configuration: { url: '/openapi.json' } });

  await app.register(fastifyMultipart, {
    limits: { fileSize: deps.maxUploadBytes, files: 1, fields: 10, fieldSize: 1024 },
  });

  await app.register(healthRoutes, { checks: deps.readiness });
  await app.register(
    async (api) => {
      await api.register(uploadRoutes, { jobs: deps.jobs, uploads: deps.uploads });
      await api.register(jobRoutes, { jobs: deps.jobs });
    },
    { prefix: API_PREFIX },
  );

  if (webDir) await registerWeb(app, webDir);
  return app;
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
