/**
 * The HTTP server the provider emulators run on: Fastify, set to answer as a plain node:http
 * server does wherever the emulated provider's own answers do not apply, so nothing of Fastify's
 * (its error bodies, its timeouts) passes for the provider's behaviour.
 */
import { METHODS } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

/** node:http's own defaults, which Fastify replaces with its own (72 s keep-alive, no request timeout). */
const NODE_KEEP_ALIVE_TIMEOUT_MS = 5_000;
const NODE_REQUEST_TIMEOUT_MS = 300_000;

/**
 * `notFound` answers a path none of the app's routes serves, a URL Fastify cannot decode included
 * (node:http passed it on undecoded, to the same 404).
 */
export function createEmulatorApp(
  notFound: (req: FastifyRequest, reply: FastifyReply) => FastifyReply,
): FastifyInstance {
  // No logger: no request log lines from a sandbox running inside the app's own process.
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    keepAliveTimeout: NODE_KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: NODE_REQUEST_TIMEOUT_MS,
    frameworkErrors: (_err, req, reply) => notFound(req, reply),
  });
  // Node's answer to a malformed request (a bare 400, 408 or 431, then close) rather than
  // Fastify's JSON body.
  app.server.removeAllListeners('clientError');
  // Every method node:http accepts reaches the routes (an emulator answers 405 or 404 itself).
  // CONNECT never does: node:http hands it to a 'connect' listener, and without one closes it.
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method);
  }
  // An unknown route's body is never read, so neither its type nor its size changes the 404.
  app.addHook('onRequest', async (req) => {
    if (req.is404) delete req.headers['content-type'];
  });
  app.setNotFoundHandler(notFound);
  return app;
}

/** Listens on `host:port` (port 0: an ephemeral one) and says where. */
export async function listenOn(
  app: FastifyInstance,
  host: string,
  port: number,
): Promise<{ url: string; port: number }> {
  await app.listen({ host, port });
  const address = app.server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${urlHost}:${address.port}`, port: address.port };
}

/** The fault settings both emulators take, refused at start when they make no sense. */
export function validateFaultOptions(opts: {
  errorRate?: number;
  latencyMs?: number;
  rateLimitPerMin?: number;
  creditLimit?: number;
}): void {
  const errorRate = opts.errorRate ?? 0;
  if (!(errorRate >= 0 && errorRate <= 1))
    throw new RangeError(`errorRate must be within 0..1, got ${errorRate}`);
  for (const [name, value] of Object.entries({
    latencyMs: opts.latencyMs,
    rateLimitPerMin: opts.rateLimitPerMin,
    creditLimit: opts.creditLimit,
  })) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`${name} must be a non-negative number, got ${value}`);
    }
  }
}
