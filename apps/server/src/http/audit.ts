/**
 * Audits what API keys do to jobs, from the HTTP side, after a successful response: uploads,
 * exports, and every action on a job (`POST /jobs/:jobId/<action>`: resume, cancel, retry… —
 * so an action route added later is audited without touching this file). Key creation and
 * revocation are audited by the auth service itself, in the same transaction, for the CLI too.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditRecord, AuthService } from '../auth/auth.service';

const API_PREFIX = '/api/v1';
const JOB_ROUTE = `${API_PREFIX}/jobs/:jobId`;

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
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode >= 300 || !req.authResult?.ok) return;
    const what = auditedAction(req, reply);
    if (!what) return;
    const { orgId, keyPrefix } = req.authResult.auth;
    try {
      await auth.record({ ...what, orgId, actor: { keyPrefix, requestId: String(req.id) } });
    } catch (err) {
      req.log.error({ err, action: what.action }, 'could not write the audit log');
    }
  });
}
