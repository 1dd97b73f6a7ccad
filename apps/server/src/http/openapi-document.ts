/**
 * The OpenAPI document without a running system: buildApp over inert services (no route is
 * called, so none is reached). The client package is generated from it (packages/client) and a
 * test holds the two together.
 */
import pino from 'pino';
import type { AuthService } from '../auth/auth.service';
import type { JobsService } from '../jobs/jobs.service';
import type { WebhooksService } from '../webhooks/webhooks.service';
import { buildApp } from './app';

const unused = <T>(name: string): T =>
  new Proxy(
    {},
    {
      get: (_target, prop) => () => {
        throw new Error(`${name}.${String(prop)} called while only building the OpenAPI document`);
      },
    },
  ) as T;

export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const app = await buildApp({
    logger: pino({ level: 'silent' }),
    jobs: unused<JobsService>('jobs'),
    auth: unused<AuthService>('auth'),
    webhooks: unused<WebhooksService>('webhooks'),
    readiness: async () => ({ ready: true, checks: {} }),
    maxUploadBytes: 1,
    limits: {
      rateLimitPerMinute: 0,
      requestTimeoutMs: 1_000,
      idleTimeoutMs: 1_000,
      corsOrigins: [],
    },
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
