/**
 * Sends due webhook deliveries: every worker runs one; each delivery is claimed by one of them
 * at a time (webhooks.repository.ts claimDueDeliveries), signed (Standard Webhooks), POSTed
 * through the SSRF guard, and either marked delivered (any 2xx) or scheduled again along the
 * retry schedule, then failed for good (it stays re-sendable). A worker that dies mid-send leaves
 * its claim to lapse: another sends the delivery again, with the same `webhook-id`, so receivers
 * must drop repeats by it (at-least-once, as every webhook system).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Database } from '../db/database';
import { webhookHeaders } from './signature';
import type { SsrfGuard } from './ssrf-guard';
import {
  type ClaimedDelivery,
  claimDueDeliveries,
  recordAttempt,
  storeEventPayload,
} from './webhooks.repository';

export type WebhookSenderOptions = {
  db: Database;
  guard: SsrfGuard;
  logger: Logger;
  /** Waits between attempts, in order; after the last, the delivery fails (WEBHOOK_RETRY_DELAYS_MS). */
  retryDelaysMs: readonly number[];
  /** The whole request, connection to last byte (WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** How often due deliveries are looked for (WEBHOOK_POLL_INTERVAL_MS). */
  pollIntervalMs: number;
  /** The event's `data` (the job as GET /jobs/{id} shows it), built at the first attempt. */
  eventData(orgId: string, jobId: string): Promise<unknown>;
  /** Each attempt's outcome (metrics): delivered, retry (scheduled again) or failed (no retry left). */
  onAttempt?(outcome: 'delivered' | 'retry' | 'failed'): void;
};

/** Deliveries one worker sends at once. */
const BATCH_SIZE = 20;
/** A claim outlives the request by this much, so it never lapses while its holder still sends. */
const LEASE_MARGIN_MS = 30_000;
/** What is kept of a receiver's answer in last_error. */
const ERROR_BODY_CHARS = 200;

export type WebhookSender = { start(): void; stop(): Promise<void>; tick(): Promise<number> };

export function createWebhookSender(opts: WebhookSenderOptions): WebhookSender {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;

  async function payloadOf(d: ClaimedDelivery): Promise<string> {
    if (d.payload !== null && d.payload !== undefined) return JSON.stringify(d.payload);
    // A failure here (the database away) fails this attempt; the body is built again at the next.
    const data = await opts.eventData(d.orgId, d.jobId);
    const payload = { type: d.eventType, timestamp: d.eventCreatedAt.toISOString(), data };
    return JSON.stringify(await storeEventPayload(opts.db, d.eventId, payload));
  }

  function post(
    url: URL,
    body: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      // Settled once, whatever ends the request first: its answer, an error, the deadline, or a
      // connection closed mid-answer (which emits neither 'end' nor 'error' on every Node version).
      let settled = false;
      const finish = (outcome: { status: number; text: string } | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'gtm-enrich-webhooks', ...headers },
          // Every connection goes to an address the guard checked (no DNS answer in between).
          lookup: opts.guard.lookup,
          agent: false,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < ERROR_BODY_CHARS) text += chunk;
          });
          res.on('end', () => finish({ status: res.statusCode ?? 0, text: text.slice(0, ERROR_BODY_CHARS) }));
          res.on('error', finish);
          res.on('close', () =>
            finish(new Error('the receiver closed the connection before its answer ended')),
          );
        },
      );
      // The whole request, a receiver that answers slowly or never ends its body included.
      const deadline = setTimeout(() => {
        finish(new Error(`no complete answer within ${opts.timeoutMs} ms`));
        req.destroy();
      }, opts.timeoutMs);
      req.on('error', finish);
      req.on('close', () => finish(new Error('the connection closed without an answer')));
      req.end(body);
    });
  }

  async function send(d: ClaimedDelivery, token: string): Promise<void> {
    let statusCode: number | null = null;
    let error: string;
    try {
      const url = new URL(d.url);
      // A literal address never reaches the lookup: checked here.
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) await opts.guard.check(host);
      const body = await payloadOf(d);
      const res = await post(
        url,
        body,
        webhookHeaders(d.secret, d.eventId, Math.floor(Date.now() / 1000), body),
      );
      statusCode = res.status;
      if (res.status >= 200 && res.status < 300) {
        await recordAttempt(opts.db, d.id, token, { delivered: true, statusCode: res.status });
        opts.onAttempt?.('delivered');
        return;
      }
      error =
        res.status >= 300 && res.status < 400
          ? `HTTP ${res.status}: redirects are not followed; register the final URL`
          : `HTTP ${res.status}${res.text ? `: ${res.text}` : ''}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const retryInMs = opts.retryDelaysMs[d.retryStep] ?? null;
    await recordAttempt(opts.db, d.id, token, {
      delivered: false,
      statusCode,
      error,
      retryInMs,
      retryStep: d.retryStep + 1,
    });
    opts.onAttempt?.(retryInMs === null ? 'failed' : 'retry');
    opts.logger.warn(
      { org_id: d.orgId, delivery_id: d.id, event_id: d.eventId, attempts: d.attempts, error },
      retryInMs === null ? 'webhook delivery failed for good' : 'webhook delivery failed; retrying later',
    );
  }

  async function tick(): Promise<number> {
    const token = randomUUID();
    const due = await claimDueDeliveries(opts.db, {
      token,
      leaseMs: opts.timeoutMs + LEASE_MARGIN_MS,
      limit: BATCH_SIZE,
    });
    await Promise.all(
      due.map((d) =>
        send(d, token).catch((err: unknown) =>
          opts.logger.warn(
            { err, delivery_id: d.id },
            'could not record a webhook attempt; its claim will lapse',
          ),
        ),
      ),
    );
    return due.length;
  }

  const loop = () => {
    running = tick().catch((err: unknown) => {
      opts.logger.warn({ err }, 'webhook sender tick failed; the next one retries');
      return 0;
    });
    void running.then((sent) => {
      running = null;
      // A full batch: more may be due, so straight on; else wait for the next interval.
      if (timer) timer = setTimeout(loop, sent === BATCH_SIZE ? 0 : opts.pollIntervalMs);
    });
  };

  return {
    start() {
      if (timer) return;
      timer = setTimeout(loop, 0);
    },
    async stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
    tick,
  };
}
