/**
 * Who may call what. Every request's `Authorization` is checked once, early; every route has an
 * access level, decided in one place (routeAccess) so that a route added later is protected by
 * default; and the per-key rate limit runs between the two, so a flood of bad keys is limited
 * by address before any of it reaches a handler.
 *
 *   onRequest (app)    resolve the key: req.authResult (never throws)
 *   onRequest (route)  rate limit (@fastify/rate-limit): per key, else per address
 *   onRequest (route)  enforce the route's access: 401, 403, or the org_id check
 *
 * The queue dashboard (/admin/) is for operators, not tenants: it shows every organization's
 * tasks and the Redis server itself. On this port it opens only with OPERATOR_API_KEY, and no
 * organization's key, whatever its role, opens it.
 */
import { createHash, hash, timingSafeEqual } from 'node:crypto';

import fastifyRateLimit from '@fastify/rate-limit';
import { type Role, roleAllows } from '@gtm-enrich/contracts';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { AuthContext, AuthResult, AuthService } from '../auth/auth.service';
import { AppError, isAppError } from '../errors';
import { STATUS_BY_CODE } from './errors';

/** `public`: anyone; a role: a key with at least that role; `operator`: OPERATOR_API_KEY only. */
export type Access = 'public' | 'operator' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; set by routeAccess() unless the route declares it. */
    access?: Access;
  }
  interface FastifyRequest {
    /** What the Authorization header turned out to be; null when there was none. */
    authResult: AuthResult | null;
    /**
     * The caller of a route that needs a key. Every /api route needs one, so handlers there can
     * rely on it; read anywhere else without a key, it answers 401.
     */
    readonly auth: AuthContext;
    /** The request carries the operator key (OPERATOR_API_KEY); it is then no organization's. */
    operator: boolean;
  }
}

export const BEARER_CHALLENGE = 'Bearer realm="gtm-enrich"';
/** The queue dashboard is a browser page: browsers prompt for Basic credentials, never for a Bearer key. */
export const DASHBOARD_CHALLENGE =
  'Basic realm="GTM Enrich queue dashboard (user: anything, password: the operator key)", charset="UTF-8"';
const DASHBOARD_PREFIX = '/admin/';

/**
 * The one table of who may call what: a route's own `config.access` when it declares one; else
 * /api reads need a viewer, exports and every other /api method a member; /admin (the queue
 * dashboard) the operator; everything else (health, readiness, docs, the page) is public.
 */
export function routeAccess(method: string, url: string, declared?: Access): Access {
  if (declared) return declared;
  if (url.startsWith(DASHBOARD_PREFIX)) return 'operator';
  if (!url.startsWith('/api/')) return 'public';
  const read = method === 'GET' || method === 'HEAD';
  if (read && !url.endsWith('/export.csv')) return 'viewer';
  return 'member';
}

const FAILURE_MESSAGES = {
  missing: 'This endpoint needs an API key: send the header "Authorization: Bearer <key>".',
  malformed: 'The Authorization header is not "Bearer <key>" with a well-formed key.',
  unknown: 'The API key is not valid. Check it, or ask an admin of your organization for a new one.',
  revoked: 'The API key has been revoked. Ask an admin of your organization for a new one.',
  operator:
    'The queue dashboard is for operators: it opens with the operator key (OPERATOR_API_KEY) as the password.',
} as const;
const NOT_FOR_TENANTS =
  "The queue dashboard is for operators: it opens with the operator key (OPERATOR_API_KEY), never with an organization's API key.";

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
/** The principal cache's key for a presented key: one-shot, as it runs on every request. */
const cacheId = (value: string) => hash('sha256', value, 'base64');

function presentedKey(req: FastifyRequest): string | { malformed: true } | null {
  const header = req.headers.authorization;
  if (header === undefined || header === '') return null;
  const [scheme, value, extra] = header.trim().split(/\s+/);
  if (!value || extra !== undefined) return { malformed: true };
  if (scheme?.toLowerCase() === 'bearer') return value;
  // Basic only where a browser page needs it; the password is the key, the user name is ignored.
  if (scheme?.toLowerCase() === 'basic' && req.url.startsWith(DASHBOARD_PREFIX)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : { malformed: true };
  }
  return { malformed: true };
}

/**
 * How long a checked key's principal is reused in this process: polls then cost no database
 * lookup. A key revoked through another process stops working here within this bound; through
 * this one, at once (see docs/security.md).
 */
export const PRINCIPAL_CACHE_TTL_MS = 5_000;
/** Keys kept at most; the oldest entry goes first. */
const PRINCIPAL_CACHE_MAX = 10_000;

/**
 * Valid keys only, by the digest of the key (never the key itself): an unknown or revoked key
 * is looked up every time, so nothing a stranger sends fills it.
 */
export function createPrincipalCache(ttlMs: number, now: () => number = Date.now) {
  const entries = new Map<string, { result: AuthResult & { ok: true }; expiresAt: number }>();
  return {
    get(key: string): (AuthResult & { ok: true }) | null {
      const id = cacheId(key);
      const hit = entries.get(id);
      if (!hit) return null;
      if (hit.expiresAt <= now()) {
        entries.delete(id);
        return null;
      }
      return hit.result;
    },
    set(key: string, result: AuthResult): void {
      if (!result.ok || ttlMs <= 0) return;
      if (entries.size >= PRINCIPAL_CACHE_MAX) entries.delete(entries.keys().next().value!);
      entries.set(cacheId(key), { result, expiresAt: now() + ttlMs });
    },
    clear(): void {
      entries.clear();
    },
  };
}

export type AuthOptions = {
  auth: AuthService;
  /** PRINCIPAL_CACHE_TTL_MS unless given; 0 = every request looks its key up. */
  principalCacheTtlMs?: number;
  /** OPERATOR_API_KEY: opens /admin/ (the queue dashboard) and nothing else; absent = nobody opens it here. */
  operatorKey?: string | null;
  /** Requests a minute per key (per address without a key); 0 = no limit. */
  rateLimitPerMinute: number;
  /** Shares the rate limit between API processes (distributed mode); absent = per process. */
  rateLimitRedis?: Redis | null;
  rateLimitNamespace?: string;
};

export async function registerAuth(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  app.decorateRequest('authResult', null);
  app.decorateRequest('operator', false);
  // Compared as digests in constant time: the comparison says nothing about how much matched.
  const operatorDigest = opts.operatorKey ? digest(opts.operatorKey) : null;
  const principals = createPrincipalCache(opts.principalCacheTtlMs ?? PRINCIPAL_CACHE_TTL_MS);
  app.decorateRequest('auth', {
    getter(this: FastifyRequest): AuthContext {
      if (this.authResult?.ok) return this.authResult.auth;
      throw new AppError('UNAUTHENTICATED', FAILURE_MESSAGES.missing);
    },
  });

  app.addHook('onRequest', async (req) => {
    const key = presentedKey(req);
    if (key === null) return;
    if (operatorDigest && typeof key === 'string' && req.url.startsWith(DASHBOARD_PREFIX)) {
      if (timingSafeEqual(digest(key), operatorDigest)) {
        req.operator = true;
        return;
      }
    }
    if (typeof key !== 'string') {
      req.authResult = { ok: false, failure: 'malformed' };
      return;
    }
    const cached = principals.get(key);
    if (cached) {
      req.authResult = cached;
      return;
    }
    req.authResult = await opts.auth.authenticate(key);
    principals.set(key, req.authResult);
  });

  // A key revoked (or its role changed) here takes effect here at once; other processes drop it
  // within the cache's TTL.
  app.addHook('onResponse', async (req, reply) => {
    if (
      req.method !== 'GET' &&
      req.method !== 'HEAD' &&
      req.url.startsWith('/api/v1/keys') &&
      reply.statusCode < 400
    ) {
      principals.clear();
    }
  });

  // Before the rate limiter's own onRoute hook: it reads `config.access` for its allow list.
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    route.config = {
      ...route.config,
      access: routeAccess(methods[0] ?? 'GET', route.url, route.config?.access),
    };
  });

  if (opts.rateLimitPerMinute > 0) {
    await app.register(fastifyRateLimit, {
      global: true,
      max: opts.rateLimitPerMinute,
      timeWindow: 60_000,
      hook: 'onRequest',
      redis: opts.rateLimitRedis ?? undefined,
      nameSpace: opts.rateLimitNamespace,
      // Redis down: serve rather than refuse everyone (the limit is a guard, not a bill).
      skipOnError: true,
      keyGenerator: (req) => (req.authResult?.ok ? `key:${req.authResult.auth.keyId}` : `ip:${req.ip}`),
      // Public pages and probes without a key are not counted: the page's assets, health checks.
      allowList: (req) => req.routeOptions.config.access === 'public' && req.authResult === null,
      errorResponseBuilder: (_req, ctx) =>
        new AppError(
          'RATE_LIMITED',
          `Too many requests: the limit is ${ctx.max} a minute per API key. Retry in ${ctx.after}.`,
          { limit_per_minute: ctx.max, retry_after_seconds: Math.ceil(ctx.ttl / 1000) },
        ),
    });
  }

  // After the rate limiter: its per-route hook runs first, then this one.
  app.addHook('onRoute', (route: RouteOptions) => {
    const access = route.config?.access ?? 'public';
    if (access === 'public') return;
    // Answered here rather than thrown: a plugin's own error handler (bull-board has one) would
    // turn a thrown 401 into its own 500.
    const enforce = async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        enforceAccess(req, reply, access);
      } catch (err) {
        if (!isAppError(err)) throw err;
        return reply.status(STATUS_BY_CODE[err.code]).send({
          error: { code: err.code, message: err.message, details: err.details, request_id: String(req.id) },
        });
      }
    };
    const existing = route.onRequest;
    route.onRequest = existing ? [...(Array.isArray(existing) ? existing : [existing]), enforce] : [enforce];
  });
}

function enforceAccess(req: FastifyRequest, reply: FastifyReply, needed: Exclude<Access, 'public'>): void {
  const result = req.authResult;
  if (needed === 'operator') {
    if (req.operator) return;
    if (result?.ok) throw new AppError('FORBIDDEN', NOT_FOR_TENANTS);
    reply.header('www-authenticate', DASHBOARD_CHALLENGE);
    throw new AppError('UNAUTHENTICATED', FAILURE_MESSAGES.operator);
  }
  if (!result?.ok) {
    reply.header('www-authenticate', BEARER_CHALLENGE);
    throw new AppError('UNAUTHENTICATED', FAILURE_MESSAGES[result ? result.failure : 'missing']);
  }
  const { auth } = result;
  if (!roleAllows(auth.role, needed)) {
    throw new AppError(
      'FORBIDDEN',
      `This needs the ${needed} role; the API key in use has the ${auth.role} role.`,
      { role: auth.role, required_role: needed },
    );
  }
  const query = req.query as Record<string, unknown> | undefined;
  assertSameOrganization(auth, query?.org_id);
}

/**
 * An `org_id` sent by an older client: the key's own organization is accepted, any other is 403
 * (not 404: the caller named the organization, and it is not theirs to name).
 */
export function assertSameOrganization(auth: AuthContext, orgId: unknown): void {
  if (orgId === undefined || orgId === null || orgId === '') return;
  if (typeof orgId === 'string' && orgId.trim() === auth.orgId) return;
  throw new AppError(
    'FORBIDDEN',
    'org_id does not match the organization of the API key. Leave org_id out: the key says which organization it is.',
  );
}
