/**
 * Webhook endpoints of an organization and what was sent to them. The events themselves are
 * written by the database (a trigger on jobs, see docs/adr/0007) and sent by webhook-sender.ts.
 */
import type {
  CreatedWebhookEndpoint,
  CreateWebhookBody,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEventType,
} from '@gtm-enrich/contracts';
import { WEBHOOK_EVENT_TYPES } from '@gtm-enrich/contracts';
import type { Database } from '../db/database';
import { AppError } from '../errors';
import { newWebhookSecret } from './signature';
import { RefusedAddressError, type SsrfGuard } from './ssrf-guard';
import {
  type DeliveryRow,
  deleteEndpoint,
  type EndpointRow,
  findDelivery,
  findEndpoint,
  insertEndpoint,
  listDeliveries,
  listEndpoints,
  scheduleResend,
} from './webhooks.repository';

export type WebhooksServiceDeps = { db: Database; guard: SsrfGuard };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Endpoints per organization: every job event is sent to each, so their number is bounded. */
export const MAX_WEBHOOK_ENDPOINTS = 20;

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    events: row.events as WebhookEventType[],
    description: row.description,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
  };
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    event_id: row.eventId,
    event_type: row.eventType as WebhookEventType,
    job_id: row.jobId,
    status: row.status,
    attempts: row.attempts,
    last_attempt_at: iso(row.lastAttemptAt),
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    next_attempt_at: row.status === 'pending' ? iso(row.nextAttemptAt) : null,
    delivered_at: iso(row.deliveredAt),
    created_at: row.createdAt.toISOString(),
  };
}

const encodeCursor = (row: DeliveryRow) =>
  Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString('base64url');

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/.test(id)) throw new Error('bad cursor');
    return { createdAt, id };
  } catch {
    throw new AppError('INVALID_CURSOR', 'cursor is not a next_cursor this endpoint gave.');
  }
}

export function createWebhooksService({ db, guard }: WebhooksServiceDeps) {
  async function getEndpoint(orgId: string, id: string): Promise<EndpointRow> {
    const row = await findEndpoint(db, orgId, id);
    if (!row) throw new AppError('NOT_FOUND', `No webhook endpoint ${id} in this organization.`);
    return row;
  }

  /** Refused at registration too, so that a mistake shows at once (every delivery checks again). */
  async function checkUrl(given: string): Promise<void> {
    const url = new URL(given);
    if (url.username || url.password) {
      throw new AppError(
        'VALIDATION_FAILED',
        'url: leave credentials out of the URL; the signature authenticates us.',
      );
    }
    try {
      await guard.check(url.hostname);
    } catch (err) {
      if (err instanceof RefusedAddressError) {
        throw new AppError('VALIDATION_FAILED', `url: ${err.message}.`, {
          address: err.address,
          kind: err.kind,
        });
      }
      const code = (err as { code?: string }).code ?? 'unknown error';
      throw new AppError('VALIDATION_FAILED', `url: the host ${url.hostname} cannot be resolved (${code}).`);
    }
  }

  return {
    async create(orgId: string, body: CreateWebhookBody, actor: string): Promise<CreatedWebhookEndpoint> {
      await checkUrl(body.url);
      if ((await listEndpoints(db, orgId)).length >= MAX_WEBHOOK_ENDPOINTS) {
        throw new AppError(
          'CONFLICT',
          `This organization has ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints, the most it may have: delete one first.`,
        );
      }
      const secret = newWebhookSecret();
      const row = await insertEndpoint(db, {
        orgId,
        url: body.url,
        events: [...new Set(body.events ?? WEBHOOK_EVENT_TYPES)],
        description: body.description ?? null,
        secret,
        createdBy: actor,
      });
      return { ...toEndpoint(row), secret };
    },
    async list(orgId: string): Promise<{ data: WebhookEndpoint[] }> {
      return { data: (await listEndpoints(db, orgId)).map(toEndpoint) };
    },
    async get(orgId: string, id: string): Promise<WebhookEndpoint> {
      return toEndpoint(await getEndpoint(orgId, id));
    },
    /** Its pending deliveries go with it. */
    async remove(orgId: string, id: string): Promise<WebhookEndpoint> {
      const row = await deleteEndpoint(db, orgId, id);
      if (!row) throw new AppError('NOT_FOUND', `No webhook endpoint ${id} in this organization.`);
      return toEndpoint(row);
    },
    async listDeliveries(orgId: string, id: string, page: { limit: number; cursor?: string }) {
      await getEndpoint(orgId, id);
      const after = page.cursor ? decodeCursor(page.cursor) : null;
      const rows = await listDeliveries(db, orgId, id, { limit: page.limit, after });
      const data = rows.slice(0, page.limit);
      const last = data.at(-1);
      return {
        data: data.map(toDelivery),
        next_cursor: rows.length > page.limit && last ? encodeCursor(last) : null,
      };
    },
    /** Sent again as soon as a worker is free, with the same event id (receivers drop repeats by it). */
    async resend(orgId: string, id: string, deliveryId: string): Promise<WebhookDelivery> {
      await getEndpoint(orgId, id);
      const found = await findDelivery(db, orgId, id, deliveryId);
      if (!found) throw new AppError('NOT_FOUND', `No delivery ${deliveryId} for webhook endpoint ${id}.`);
      if (!(await scheduleResend(db, orgId, deliveryId))) {
        throw new AppError(
          'CONFLICT',
          `Delivery ${deliveryId} is being sent right now; look again in a moment.`,
        );
      }
      return toDelivery((await findDelivery(db, orgId, id, deliveryId))!);
    },
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
