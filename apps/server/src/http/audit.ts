/**
 * Audits what API keys do to jobs, from the HTTP side, after a successful response: uploads,
 * exports, and every action on a job (`POST /jobs/:jobId/<action>`: resume, cancel, retry… —
 * so an action route added later is audited without touching this file). Key creation and
 * revocation are audited by the auth service itself, in the same transaction, for the CLI too.
 *
 * Refused requests are audited too, throttled: a 403 (a key asked for more than its role or
 * organization allows) and a 401 with a revoked key go to that key's organization's log as
 * `auth.denied`; a 401 with no key, a malformed or an unknown one belongs to no organization and
 * goes to the server log (a warning), per client address.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, AuditRecord, AuthService } from '../auth/auth.service';

/** One refused-request entry per organization, key and status (or per address) in this window. */
const DENIED_WINDOW_MS = 60_000;
/** Throttle entries kept per process; beyond, the memory starts over (a few extra entries at worst). */
const DENIED_MEMO_MAX = 10_000;

/** The acting key, the request and the client's address (as TRUST_PROXY lets the server see it). */
export function requestActor(req: FastifyRequest): Actor {
  return { keyPrefix: req.auth.keyPrefix, requestId: String(req.id), ip: req.ip };
}

/**
 * Lets the first refusal of each kind through per window and counts the rest, so that a client
 * hammering with a bad key writes a line a minute, not one per request; the count goes with the
 * next line.
 */
function createThrottle(windowMs: number, now: () => number = Date.now) {
  const seen = new Map<string, { until: number; suppressed: number }>();
  return (key: string): { suppressed: number } | null => {
    const t = now();
    const entry = seen.get(key);
    if (entry && t < entry.until) {
      entry.suppressed++;
      return null;
    }
    if (seen.size >= DENIED_MEMO_MAX) seen.clear();
    seen.set(key, { until: t + windowMs, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  };
}

const API_PREFIX = '/api/v1';
const JOB_ROUTE = `${API_PREFIX}/jobs/:jobId`;
const WEBHOOK_ROUTE = `${API_PREFIX}/webhooks`;

/** What a successful request did, or null when it is not audited (reads). Exported for tests. */
export function auditedAction(
  req: FastifyRequest,
  reply: FastifyReply,
): Omit<AuditRecord, 'orgId' | 'actor'> | null {
  const route = req.routeOptions.url ?? '';
  const params = (req.params ?? {}) as Record<string, string>;
  if (req.method === 'POST' && route === `${API_PREFIX}/uploads`) {
    const location = String(reply.getHeader('location') ?? '');
    return { action: 'job.upload', targetType: 'job', targetId: location.split('/').pop() || undefined };
  }
  // Where job events (and the jobs in them) are sent: every change is audited.
  if (route.startsWith(WEBHOOK_ROUTE) && req.method !== 'GET' && req.method !== 'HEAD') {
    if (req.method === 'POST' && route === WEBHOOK_ROUTE) {
      const location = String(reply.getHeader('location') ?? '');
      return {
        action: 'webhook.create',
        targetType: 'webhook',
        targetId: location.split('/').pop() || undefined,
      };
    }
    return {
      action: req.method === 'DELETE' ? 'webhook.delete' : 'webhook.resend',
      targetType: 'webhook',
      targetId: params.webhookId,
      details: params.deliveryId ? { delivery_id: params.deliveryId } : undefined,
    };
  }
  if (!route.startsWith(JOB_ROUTE) || !params.jobId) return null;
  if (req.method === 'GET' && route === `${JOB_ROUTE}/export.csv`) {
    return { action: 'job.export', targetType: 'job', targetId: params.jobId };
  }
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return null;
  const segments = route
    .slice(JOB_ROUTE.length)
    .split('/')
    .filter((s) => s && !s.startsWith(':'));
  const details: Record<string, unknown> = { method: req.method };
  for (const [name, value] of Object.entries(params)) if (name !== 'jobId') details[name] = value;
  return {
    action: `job.${segments.at(-1) ?? req.method.toLowerCase()}`,
    targetType: 'job',
    targetId: params.jobId,
    details,
  };
}

export function registerAudit(app: FastifyInstance, auth: AuthService): void {
  const throttle = createThrottle(DENIED_WINDOW_MS);
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode === 401 || reply.statusCode === 403) {
      await auditDenied(req, reply.statusCode);
      return;
    }
    if (reply.statusCode >= 300 || !req.authResult?.ok) return;
    const what = auditedAction(req, reply);
    if (!what) return;
    try {
      await auth.record({ ...what, orgId: req.authResult.auth.orgId, actor: requestActor(req) });
    } catch (err) {
      req.log.error({ err, action: what.action }, 'could not write the audit log');
    }
  });

  async function auditDenied(req: FastifyRequest, status: number): Promise<void> {
    const result = req.authResult;
    const route = req.routeOptions.url ?? 'unmatched';
    const known = result?.ok
      ? { orgId: result.auth.orgId, keyPrefix: result.auth.keyPrefix, reason: 'forbidden' }
      : result?.revoked
        ? { ...result.revoked, reason: 'revoked' }
        : null;
    if (!known) {
      const reason = result && !result.ok ? result.failure : 'missing';
      const passed = throttle(`ip:${req.ip}:${reason}`);
      if (passed) {
        app.log.warn(
          { client_ip: req.ip, reason, status, method: req.method, route, suppressed: passed.suppressed },
          'request refused: no valid API key',
        );
      }
      return;
    }
    const passed = throttle(`key:${known.orgId}:${known.keyPrefix}:${status}`);
    if (!passed) return;
    try {
      await auth.record({
        orgId: known.orgId,
        actor: { keyPrefix: known.keyPrefix, requestId: String(req.id), ip: req.ip },
        action: 'auth.denied',
        details: {
          status,
          reason: known.reason,
          method: req.method,
          route,
          // Refusals of this key in the window before this one, not written one by one.
          suppressed: passed.suppressed,
        },
      });
    } catch (err) {
      req.log.error({ err, action: 'auth.denied' }, 'could not write the audit log');
    }
  }
}
