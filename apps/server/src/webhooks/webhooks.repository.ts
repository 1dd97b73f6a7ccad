/** SQL of webhooks: endpoints and deliveries, always scoped to an organization; the sender's claims. */
import { and, desc, eq, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { webhookDeliveries, webhookEndpoints, webhookEvents } from '../db/schema';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;

export async function insertEndpoint(
  db: Db,
  values: typeof webhookEndpoints.$inferInsert,
): Promise<EndpointRow> {
  const [row] = await db.insert(webhookEndpoints).values(values).returning();
  return row!;
}

export function listEndpoints(db: Db, orgId: string): Promise<EndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.orgId, orgId))
    .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id));
}

export async function findEndpoint(db: Db, orgId: string, id: string): Promise<EndpointRow | null> {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id)));
  return row ?? null;
}

export async function deleteEndpoint(db: Db, orgId: string, id: string): Promise<EndpointRow | null> {
  const [row] = await db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id)))
    .returning();
  return row ?? null;
}

const deliveryColumns = {
  id: webhookDeliveries.id,
  eventId: webhookDeliveries.eventId,
  eventType: webhookEvents.type,
  jobId: webhookEvents.jobId,
  status: webhookDeliveries.status,
  attempts: webhookDeliveries.attempts,
  lastAttemptAt: webhookDeliveries.lastAttemptAt,
  lastStatusCode: webhookDeliveries.lastStatusCode,
  lastError: webhookDeliveries.lastError,
  nextAttemptAt: webhookDeliveries.nextAttemptAt,
  deliveredAt: webhookDeliveries.deliveredAt,
  createdAt: webhookDeliveries.createdAt,
};
export type DeliveryRow = {
  [K in keyof typeof deliveryColumns]: (typeof deliveryColumns)[K]['_']['data'];
};

/** Newest first; `after` is the last row of the previous page. */
export function listDeliveries(
  db: Db,
  orgId: string,
  endpointId: string,
  page: { limit: number; after: { createdAt: Date; id: string } | null },
): Promise<DeliveryRow[]> {
  const { after } = page;
  return db
    .select(deliveryColumns)
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(
      and(
        eq(webhookDeliveries.orgId, orgId),
        eq(webhookDeliveries.endpointId, endpointId),
        after
          ? or(
              lt(webhookDeliveries.createdAt, after.createdAt),
              and(eq(webhookDeliveries.createdAt, after.createdAt), lt(webhookDeliveries.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(page.limit + 1) as Promise<DeliveryRow[]>;
}

export async function findDelivery(
  db: Db,
  orgId: string,
  endpointId: string,
  id: string,
): Promise<DeliveryRow | null> {
  const [row] = (await db
    .select(deliveryColumns)
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(
      and(
        eq(webhookDeliveries.orgId, orgId),
        eq(webhookDeliveries.endpointId, endpointId),
        eq(webhookDeliveries.id, id),
      ),
    )) as DeliveryRow[];
  return row ?? null;
}

/**
 * Due again now, at the start of the retry schedule; the attempts made stay counted. A delivery
 * being sent right now (its lease running) is left to finish: false.
 */
export async function scheduleResend(db: Db, orgId: string, id: string): Promise<boolean> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', retryStep: 0, nextAttemptAt: sql`now()`, deliveredAt: null })
    .where(
      and(
        eq(webhookDeliveries.orgId, orgId),
        eq(webhookDeliveries.id, id),
        or(sql`${webhookDeliveries.leaseUntil} is null`, sql`${webhookDeliveries.leaseUntil} < now()`),
      ),
    )
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

export type ClaimedDelivery = {
  id: string;
  orgId: string;
  retryStep: number;
  attempts: number;
  url: string;
  secret: string;
  eventId: string;
  eventType: string;
  jobId: string;
  payload: unknown;
  eventCreatedAt: Date;
};

/**
 * Due deliveries, each taken by one worker only (SKIP LOCKED, then a lease that outlives the
 * request): another worker skips them until the lease lapses, which happens only when this one
 * died mid-send. The attempt is counted now, so an attempt cut off by a crash counts too.
 */
export async function claimDueDeliveries(
  db: Db,
  opts: { token: string; leaseMs: number; limit: number },
): Promise<ClaimedDelivery[]> {
  const result = await db.execute<{
    id: string;
    org_id: string;
    retry_step: number;
    attempts: number;
    url: string;
    secret: string;
    event_id: string;
    event_type: string;
    job_id: string;
    payload: unknown;
    event_created_at: string | Date;
  }>(sql`
    update webhook_deliveries d
       set lease_token = ${opts.token}, lease_until = now() + ${opts.leaseMs} * interval '1 millisecond',
           attempts = d.attempts + 1, last_attempt_at = now()
      from webhook_endpoints e, webhook_events ev
     where d.id in (
             select id from webhook_deliveries
              where status = 'pending' and next_attempt_at <= now()
                and (lease_until is null or lease_until < now())
              order by next_attempt_at
              limit ${opts.limit}
              for update skip locked)
       and e.id = d.endpoint_id and ev.id = d.event_id
    returning d.id, d.org_id, d.retry_step, d.attempts, e.url, e.secret, ev.id as event_id,
              ev.type as event_type, ev.job_id, ev.payload, ev.created_at as event_created_at`);
  return result.rows.map((r) => ({
    id: r.id,
    orgId: r.org_id,
    retryStep: r.retry_step,
    attempts: r.attempts,
    url: r.url,
    secret: r.secret,
    eventId: r.event_id,
    eventType: r.event_type,
    jobId: r.job_id,
    payload: r.payload,
    eventCreatedAt: new Date(r.event_created_at),
  }));
}

/** The event's body: the first one stored wins, so every attempt, by any worker, sends the same bytes. */
export async function storeEventPayload(db: Db, eventId: string, payload: unknown): Promise<unknown> {
  await db
    .update(webhookEvents)
    .set({ payload })
    .where(and(eq(webhookEvents.id, eventId), sql`${webhookEvents.payload} is null`));
  const [row] = await db
    .select({ payload: webhookEvents.payload })
    .from(webhookEvents)
    .where(eq(webhookEvents.id, eventId));
  return row?.payload;
}

/** Written only by the holder of the claim: a worker whose lease lapsed records nothing. */
export async function recordAttempt(
  db: Db,
  id: string,
  token: string,
  outcome:
    | { delivered: true; statusCode: number }
    | {
        delivered: false;
        statusCode: number | null;
        error: string;
        retryInMs: number | null;
        retryStep: number;
      },
): Promise<void> {
  const released = { leaseToken: null, leaseUntil: null, lastStatusCode: outcome.statusCode };
  await db
    .update(webhookDeliveries)
    .set(
      outcome.delivered
        ? { ...released, status: 'delivered', deliveredAt: sql`now()`, lastError: null }
        : {
            ...released,
            lastError: outcome.error.slice(0, 500),
            retryStep: outcome.retryStep,
            ...(outcome.retryInMs === null
              ? { status: 'failed' as const }
              : { nextAttemptAt: sql`now() + ${outcome.retryInMs} * interval '1 millisecond'` }),
          },
    )
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.leaseToken, token)));
}
