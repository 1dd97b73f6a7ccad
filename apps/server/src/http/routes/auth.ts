import {
  ApiKey,
  ApiKeyList,
  AuditLogList,
  AuditLogQuery,
  CreateApiKeyBody,
  CreatedApiKey,
  ErrorBody,
  KeyPrefixParams,
  Me,
} from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AuthService } from '../../auth/auth.service';
import { requestActor } from '../audit';

const AUTH_ERRORS = { 401: ErrorBody, 403: ErrorBody, 429: ErrorBody };

/** Who am I, API keys (admins) and the audit log (admins). */
export const authRoutes: FastifyPluginAsyncZod<{ auth: AuthService }> = async (app, { auth }) => {
  app.get(
    '/me',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['auth'],
        operationId: 'getMe',
        summary: 'The organization and role of the API key in use',
        response: { 200: Me, ...AUTH_ERRORS },
      },
    },
    (req) => ({
      org_id: req.auth.orgId,
      org_name: req.auth.orgName,
      role: req.auth.role,
      key_prefix: req.auth.keyPrefix,
    }),
  );

  app.get(
    '/keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        operationId: 'listApiKeys',
        summary: "The organization's API keys (never the keys themselves)",
        response: { 200: ApiKeyList, ...AUTH_ERRORS },
      },
    },
    async (req) => ({ data: await auth.listKeys(req.auth.orgId) }),
  );

  app.post(
    '/keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        operationId: 'createApiKey',
        summary: 'Create an API key in this organization; the key is in this answer only',
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, 400: ErrorBody, ...AUTH_ERRORS },
      },
    },
    async (req, reply) => {
      const { key, apiKey } = await auth.createKey({
        orgId: req.auth.orgId,
        role: req.body.role,
        name: req.body.name,
        actor: requestActor(req),
      });
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send({ ...apiKey, key });
    },
  );

  app.post(
    '/keys/:prefix/revoke',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key of this organization, at once, for good',
        params: KeyPrefixParams,
        description:
          "The organization's last active admin key cannot be revoked here (409): create another admin key first.",
        response: { 200: ApiKey, 404: ErrorBody, 409: ErrorBody, ...AUTH_ERRORS },
      },
    },
    (req) =>
      auth.revokeKey(req.params.prefix, {
        orgId: req.auth.orgId,
        keepOneAdmin: true,
        actor: requestActor(req),
      }),
  );

  app.get(
    '/audit-log',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auth'],
        operationId: 'listAuditLog',
        summary: "The organization's audit log, newest first (keyset pagination)",
        querystring: AuditLogQuery,
        response: { 200: AuditLogList, 400: ErrorBody, ...AUTH_ERRORS },
      },
    },
    (req) => auth.listAudit(req.auth.orgId, req.query),
  );
};
