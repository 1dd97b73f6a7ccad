import { Health, Readiness } from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

export type ReadinessCheck = () => Promise<void>;

/**
 * What a failed check answers: a code, never the error's text. /readyz is public, and a message
 * such as "connect ECONNREFUSED 10.0.3.7:5432" maps the network behind the API; the log has it.
 */
const UNAVAILABLE = 'unavailable';

export const healthRoutes: FastifyPluginAsyncZod<{ checks: Record<string, ReadinessCheck> }> = async (
  app,
  { checks },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        operationId: 'getHealth',
        summary: 'The process is alive',
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        operationId: 'getReadiness',
        summary: 'The database and the queue are reachable',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (req, reply) => {
      const results = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          try {
            await check();
            return [name, { ok: true }] as const;
          } catch (err) {
            req.log.warn({ check: name, err }, 'readiness check failed');
            return [name, { ok: false, error: UNAVAILABLE }] as const;
          }
        }),
      );
      const ready = results.every(([, r]) => r.ok);
      return reply
        .status(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
    },
  );
};
