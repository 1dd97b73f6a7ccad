/**
 * The API reference page (Scalar) at /docs, loaded on its first visit instead of at start: the
 * plugin's module holds its whole browser bundle as a string, some 20 MB of heap that every API
 * process would otherwise carry from start whether anyone opens /docs or not. The page is served by
 * a Fastify instance of its own, through the API's routes, so the API's hooks (security headers,
 * its Content-Security-Policy for /docs, request logs) apply as to any other answer.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

export type ApiReferenceOptions = {
  /** Where the page is served, e.g. /docs. */
  routePrefix: `/${string}`;
  configuration: Record<string, unknown>;
};

export function lazyApiReference(opts: ApiReferenceOptions): FastifyPluginAsync {
  let inner: Promise<FastifyInstance> | null = null;
  const load = async (): Promise<FastifyInstance> => {
    const [{ default: Fastify }, { default: scalarApiReference }] = await Promise.all([
      import('fastify'),
      import('@scalar/fastify-api-reference'),
    ]);
    const app = Fastify({ logger: false });
    await app.register(scalarApiReference, {
      routePrefix: opts.routePrefix,
      configuration: opts.configuration,
    });
    await app.ready();
    return app;
  };

  return async (app) => {
    app.addHook('onClose', async () => {
      await (await inner)?.close();
    });
    const serve = async (
      req: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
      reply: {
        status(code: number): unknown;
        header(name: string, value: unknown): unknown;
        send(body: unknown): unknown;
      },
    ) => {
      inner ??= load().catch((err: unknown) => {
        inner = null;
        throw err;
      });
      const answer = await (await inner).inject({
        method: req.method as 'GET' | 'HEAD',
        url: req.url,
        headers: { accept: req.headers.accept ?? '*/*' },
      });
      reply.status(answer.statusCode);
      for (const [name, value] of Object.entries(answer.headers)) {
        // Framing is the API's own; every other header (type, caching) is the page's.
        if (name === 'content-length' || name === 'connection' || name === 'transfer-encoding') continue;
        if (value !== undefined) reply.header(name, value);
      }
      return reply.send(answer.rawPayload.length > 0 ? answer.rawPayload : undefined);
    };
    app.get(opts.routePrefix, { schema: { hide: true } }, serve);
    app.get(`${opts.routePrefix}/*`, { schema: { hide: true } }, serve);
  };
}
