import {
  CreatedWebhookEndpoint,
  CreateWebhookBody,
  ErrorBody,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookDeliveryParams,
  WebhookDeliveryQuery,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookParams,
} from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { WebhooksService } from '../../webhooks/webhooks.service';

const SIGNING =
  'Each delivery is a POST of `{ type, timestamp, data: { job } }` signed as Standard Webhooks do: headers ' +
  '`webhook-id` (the event id: the same on every retry and resend, so drop repeats by it), `webhook-timestamp` ' +
  '(Unix seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` with the ' +
  'secret after `whsec_`, base64-decoded). Any 2xx is delivered; anything else is retried with backoff for ' +
  'about 27 hours (WEBHOOK_RETRY_DELAYS_MS), then the delivery fails and can be resent.';

/** Webhook endpoints (organization admins) and their deliveries. */
export const webhookRoutes: FastifyPluginAsyncZod<{ webhooks: WebhooksService }> = async (
  app,
  { webhooks },
) => {
  app.get(
    '/webhooks',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['webhooks'],
        operationId: 'listWebhooks',
        summary: "The organization's webhook endpoints (never their secrets)",
        response: { 200: WebhookEndpointList },
      },
    },
    (req) => webhooks.list(req.auth.orgId),
  );

  app.post(
    '/webhooks',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['webhooks'],
        operationId: 'createWebhook',
        summary: 'Register an endpoint for job events; its signing secret is in this answer only',
        description: `${SIGNING} An organization has at most 20 endpoints (409 beyond).`,
        body: CreateWebhookBody,
        response: { 201: CreatedWebhookEndpoint, 400: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      const created = await webhooks.create(req.auth.orgId, req.body, req.auth.keyPrefix);
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .header('location', `/api/v1/webhooks/${created.id}`)
        .send(created);
    },
  );

  app.get(
    '/webhooks/:webhookId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['webhooks'],
        operationId: 'getWebhook',
        summary: 'A webhook endpoint',
        params: WebhookParams,
        response: { 200: WebhookEndpoint, 404: ErrorBody },
      },
    },
    (req) => webhooks.get(req.auth.orgId, req.params.webhookId),
  );

  app.delete(
    '/webhooks/:webhookId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['webhooks'],
        operationId: 'deleteWebhook',
        summary: 'Remove a webhook endpoint; its pending deliveries are dropped',
        params: WebhookParams,
        response: { 200: WebhookEndpoint, 404: ErrorBody },
      },
    },
    (req) => webhooks.remove(req.auth.orgId, req.params.webhookId),
  );

  app.get(
    '/webhooks/:webhookId/deliveries',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['webhooks'],
        operationId: 'listWebhookDeliveries',
        summary: "An endpoint's deliveries, newest first, with their attempts and last error",
        params: WebhookParams,
        querystring: WebhookDeliveryQuery,
        response: { 200: WebhookDeliveryList, 404: ErrorBody },
      },
    },
    (req) => webhooks.listDeliveries(req.auth.orgId, req.params.webhookId, req.query),
  );

  app.post(
    '/webhooks/:webhookId/deliveries/:deliveryId/resend',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['webhooks'],
        operationId: 'resendWebhookDelivery',
        summary: 'Send a delivery again now (same event id), delivered or failed alike',
        description: '409 while that delivery is being sent.',
        params: WebhookDeliveryParams,
        response: { 200: WebhookDelivery, 404: ErrorBody, 409: ErrorBody },
      },
    },
    (req) => webhooks.resend(req.auth.orgId, req.params.webhookId, req.params.deliveryId),
  );
};
