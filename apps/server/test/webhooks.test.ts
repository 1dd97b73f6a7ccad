/**
 * Webhooks end to end: an admin registers a local receiver, jobs end, and the receiver gets
 * signed events, retried after 500s with the same event id, from an outbox that outlives the
 * worker that was to send it; deliveries are listed and can be resent; the SSRF guard refuses
 * private addresses that the installation did not allow.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { CreatedWebhookEndpoint, Job, WebhookDelivery } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook, webhookHeaders } from '../src/webhooks/signature';
import { apiFetch, bearer, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

type Received = { path: string; headers: IncomingHttpHeaders; body: string; answered: number };

/** A receiver on loopback that answers each request with the next status of `script` (then 200). */
async function startReceiver() {
  const received: Received[] = [];
  let script: number[] = [];
  let delayMs = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const answered = script.shift() ?? 200;
      received.push({ path: req.url ?? '', headers: req.headers, body, answered });
      setTimeout(
        () =>
          res
            .writeHead(answered, { 'content-type': 'text/plain' })
            .end(answered === 200 ? 'ok' : 'receiver down'),
        delayMs,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    answer(statuses: number[]) {
      script = [...statuses];
    },
    slow(ms: number) {
      delayMs = ms;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const WEBHOOK_ENV = {
  // Loopback only, for the receiver: every other private range stays refused.
  OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32',
  WEBHOOK_RETRY_DELAYS_MS: '100,100,100',
  WEBHOOK_POLL_INTERVAL_MS: '25',
};

describe('webhooks', () => {
  let api: TestSystem;
  let worker: TestSystem | null = null;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    // The API alone: what it writes waits in PostgreSQL until a worker comes (started per test).
    api = await startTestSystem({ env: WEBHOOK_ENV, roles: { api: true, worker: false } });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await receiver?.close();
  });
  const startWorker = async () => {
    worker = await startTestSystem({ env: WEBHOOK_ENV, roles: { api: false, worker: true }, shareWith: api });
  };
  const stopWorker = async () => {
    await worker?.stop();
    worker = null;
  };

  async function register(body: Record<string, unknown>, key = api.key): Promise<Response> {
    return fetch(`${api.baseUrl}/api/v1/webhooks`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }
  const getJob = async (id: string) =>
    (await (await apiFetch(`${api.baseUrl}/api/v1/jobs/${id}`)).json()) as Job;
  const deliveries = async (webhookId: string) =>
    (
      (await (await apiFetch(`${api.baseUrl}/api/v1/webhooks/${webhookId}/deliveries`)).json()) as {
        data: WebhookDelivery[];
      }
    ).data;

  it('signs job events, retries after 500s with the same event id, survives a worker restart, and resends', async () => {
    const res = await register({
      url: receiver.url,
      events: ['job.completed', 'job.paused'],
      description: 'CI',
    });
    expect(res.status).toBe(201);
    const endpoint = (await res.json()) as CreatedWebhookEndpoint;
    expect(endpoint.secret).toMatch(/^whsec_/);
    // The secret is shown once: never listed, never read back.
    const listed = await (await apiFetch(`${api.baseUrl}/api/v1/webhooks`)).text();
    expect(listed).toContain(endpoint.id);
    expect(listed).not.toContain(endpoint.secret);
    expect(await (await apiFetch(`${api.baseUrl}/api/v1/webhooks/${endpoint.id}`)).text()).not.toContain(
      'whsec_',
    );

    // Two 500s, then the receiver is up.
    receiver.answer([500, 500]);
    await startWorker();
    const job = (await (
      await upload(api.baseUrl, csvFile(['domain', 'stripe.com', 'figma.com']))
    ).json()) as Job;
    await expect
      .poll(() => receiver.received.filter((r) => r.answered === 200).length, { timeout: 15_000 })
      .toBe(1);
    expect(receiver.received.map((r) => r.answered)).toEqual([500, 500, 200]);
    // Counted once the outcome is written, a moment after the receiver answered.
    const attempts = () =>
      worker!.system.observability.metrics.registry.getSingleMetricAsString('gtm_webhook_attempts_total');
    await expect.poll(attempts).toMatch(/gtm_webhook_attempts_total\{outcome="delivered",role="[^"]+"\} 1/);
    expect(await attempts()).toMatch(/gtm_webhook_attempts_total\{outcome="retry",role="[^"]+"\} 2/);
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (const r of receiver.received) {
      expect(verifyWebhook(endpoint.secret, r.headers as Record<string, string>, r.body)).toBe(true);
      // Every attempt sends the same bytes.
      expect(r.body).toBe(receiver.received[0]!.body);
    }
    const event = JSON.parse(receiver.received[0]!.body) as { type: string; data: { job: Job } };
    expect(event.type).toBe('job.completed');
    expect(event.data.job).toMatchObject({ id: job.id, status: 'completed', total: 2 });

    let [delivery] = await deliveries(endpoint.id);
    expect(delivery).toMatchObject({
      event_id: [...ids][0],
      event_type: 'job.completed',
      job_id: job.id,
      status: 'delivered',
      attempts: 3,
      last_status_code: 200,
      last_error: null,
    });

    // The receiver is down and the worker stops: the delivery waits in PostgreSQL, and the next
    // worker sends it, with the same event id.
    receiver.received.length = 0;
    // Down until told otherwise.
    receiver.answer(Array.from({ length: 100 }, () => 500));
    const paused = (await (
      await upload(
        api.baseUrl,
        csvFile(['domain', ...Array.from({ length: 80 }, (_, i) => `paused-${i}.com`)]),
        { org_id: 'acme', max_credits: '1' },
      )
    ).json()) as Job;
    await expect.poll(async () => (await getJob(paused.id)).status, { timeout: 15_000 }).toBe('paused');
    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    await stopWorker();
    const waiting = (await deliveries(endpoint.id))[0]!;
    expect(waiting).toMatchObject({ event_type: 'job.paused', status: 'pending', last_status_code: 500 });
    expect(waiting.attempts).toBe(receiver.received.length);
    expect(waiting.last_error).toContain('HTTP 500: receiver down');
    const tried = receiver.received.length;
    receiver.answer([]);
    await startWorker();
    await expect.poll(() => receiver.received.at(-1)?.answered, { timeout: 10_000 }).toBe(200);
    expect(receiver.received).toHaveLength(tried + 1);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(JSON.parse(receiver.received.at(-1)!.body)).toMatchObject({
      type: 'job.paused',
      data: { job: { id: paused.id, status: 'paused', error: { code: 'CREDIT_LIMIT_REACHED' } } },
    });

    // A resend: the same event, once more.
    [delivery] = (await deliveries(endpoint.id)).filter((d) => d.event_type === 'job.completed');
    const resent = await apiFetch(
      `${api.baseUrl}/api/v1/webhooks/${endpoint.id}/deliveries/${delivery!.id}/resend`,
      {
        method: 'POST',
      },
    );
    expect(resent.status).toBe(200);
    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(tried + 2);
    expect(receiver.received.at(-1)!.headers['webhook-id']).toBe(delivery!.event_id);
    await expect
      .poll(async () => (await deliveries(endpoint.id)).find((d) => d.id === delivery!.id), {
        timeout: 5_000,
      })
      .toMatchObject({ status: 'delivered', attempts: 4 });
  }, 60_000);

  it('gives up after the last retry, and the failed delivery can be resent', async () => {
    const res = await register({ url: receiver.url, events: ['job.cancelled'] });
    const endpoint = (await res.json()) as CreatedWebhookEndpoint;
    receiver.received.length = 0;
    receiver.answer([503, 503, 503, 503]);
    // No worker while the job is cancelled: it cannot complete first.
    await stopWorker();
    const job = (await (
      await upload(api.baseUrl, csvFile(['domain', ...Array.from({ length: 30 }, (_, i) => `c-${i}.io`)]))
    ).json()) as Job;
    const cancelled = await apiFetch(`${api.baseUrl}/api/v1/jobs/${job.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect((await getJob(job.id)).status).toBe('cancelled');
    await startWorker();
    await expect
      .poll(async () => (await deliveries(endpoint.id))[0]?.status, { timeout: 10_000 })
      .toBe('failed');
    const [failed] = await deliveries(endpoint.id);
    // The first attempt and the three retries of WEBHOOK_RETRY_DELAYS_MS.
    expect(failed).toMatchObject({ attempts: 4, last_status_code: 503, next_attempt_at: null });
    const resent = await apiFetch(
      `${api.baseUrl}/api/v1/webhooks/${endpoint.id}/deliveries/${failed!.id}/resend`,
      {
        method: 'POST',
      },
    );
    expect(resent.status).toBe(200);
    await expect
      .poll(async () => (await deliveries(endpoint.id))[0], { timeout: 10_000 })
      .toMatchObject({ status: 'delivered', attempts: 5, last_status_code: 200 });
  }, 30_000);

  it('two workers never send one delivery twice: each event arrives once', async () => {
    const endpoint = (await (
      await register({ url: `${receiver.url}/pair`, events: ['job.completed'] })
    ).json()) as CreatedWebhookEndpoint;
    await stopWorker();
    receiver.received.length = 0;
    // A slow receiver keeps each request in flight while the other worker looks for due deliveries.
    receiver.slow(300);
    const jobs: Job[] = [];
    for (let i = 0; i < 6; i++) {
      jobs.push((await (await upload(api.baseUrl, csvFile(['domain', `pair-${i}.dev`]))).json()) as Job);
    }
    await startWorker();
    const second = await startTestSystem({
      env: WEBHOOK_ENV,
      roles: { api: false, worker: true },
      shareWith: api,
    });
    try {
      await expect
        .poll(async () => (await deliveries(endpoint.id)).filter((d) => d.status === 'delivered').length, {
          timeout: 20_000,
        })
        .toBe(jobs.length);
      // Other endpoints of acme hear job.completed too (the same event ids): only this one's requests count.
      const ids = receiver.received
        .filter((r) => r.path === '/hooks/pair')
        .map((r) => r.headers['webhook-id']);
      expect(ids).toHaveLength(jobs.length);
      expect(new Set(ids).size).toBe(jobs.length);
      expect((await deliveries(endpoint.id)).every((d) => d.attempts === 1)).toBe(true);
    } finally {
      receiver.slow(0);
      await second.stop();
    }
  }, 40_000);

  it("the README's receiver example verifies real deliveries and refuses forged ones", async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const { port } = free.address() as AddressInfo;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const endpoint = (await (
      await register({ url: `http://127.0.0.1:${port}/`, events: ['job.completed'] })
    ).json()) as CreatedWebhookEndpoint;
    const root = path.resolve(import.meta.dirname, '../../..');
    const source = await readFile(path.join(root, 'docs/examples/webhook-receiver.mjs'), 'utf8');
    // The README shows this very file.
    expect(await readFile(path.join(root, 'README.md'), 'utf8')).toContain(source);
    const example = spawn(process.execPath, [path.join(root, 'docs/examples/webhook-receiver.mjs')], {
      env: { ...process.env, WEBHOOK_SECRET: endpoint.secret, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    example.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      const post = (headers: Record<string, string>, body: string) =>
        fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers, body });
      await expect
        .poll(async () => (await post({}, '{}').catch(() => ({ status: 0 }))).status, { timeout: 10_000 })
        .toBe(400);
      const now = Math.floor(Date.now() / 1000);
      const forged = webhookHeaders(
        'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        'evt_forged',
        now,
        '{"type":"x"}',
      );
      expect((await post(forged, '{"type":"x"}')).status).toBe(400);

      if (!worker) await startWorker();
      const job = (await (await upload(api.baseUrl, csvFile(['domain', 'linear.app']))).json()) as Job;
      await expect.poll(() => out, { timeout: 15_000 }).toContain(`job.completed ${job.id} completed`);
    } finally {
      example.kill();
    }
  });

  it('sends job.failed when a file read in the background holds no usable domain', async () => {
    // A system of its own, reading every upload in the background (more than 2 rows).
    const own = await startTestSystem({ env: { ...WEBHOOK_ENV, UPLOAD_INLINE_MAX_ROWS: '2' } });
    try {
      const res = await fetch(`${own.baseUrl}/api/v1/webhooks`, {
        method: 'POST',
        headers: { ...bearer(own.key), 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${receiver.url}/failed`, events: ['job.failed'] }),
      });
      const endpoint = (await res.json()) as CreatedWebhookEndpoint;
      const accepted = await upload(
        own.baseUrl,
        csvFile(['domain', 'not a domain', 'gmail.com', 'localhost']),
      );
      expect(accepted.status).toBe(202);
      const job = (await accepted.json()) as Job;
      expect(job.status).toBe('ingesting');
      await expect
        .poll(() => receiver.received.find((r) => r.path === '/hooks/failed'), { timeout: 15_000 })
        .toBeDefined();
      const sent = receiver.received.find((r) => r.path === '/hooks/failed')!;
      expect(verifyWebhook(endpoint.secret, sent.headers as Record<string, string>, sent.body)).toBe(true);
      expect(JSON.parse(sent.body)).toMatchObject({
        type: 'job.failed',
        data: { job: { id: job.id, status: 'failed', error: { code: expect.any(String) } } },
      });
    } finally {
      await own.stop();
    }
  });

  it('gives up on a receiver that never finishes its answer, at WEBHOOK_TIMEOUT_MS, and tries again', async () => {
    let hang = true;
    const stalls = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (!hang) return res.writeHead(204).end();
        // Headers and a first byte, then nothing: the request must still end at the deadline.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('o');
      });
    });
    await new Promise<void>((resolve) => stalls.listen(0, '127.0.0.1', resolve));
    const own = await startTestSystem({ env: { ...WEBHOOK_ENV, WEBHOOK_TIMEOUT_MS: '300' } });
    try {
      const { port } = stalls.address() as AddressInfo;
      const res = await fetch(`${own.baseUrl}/api/v1/webhooks`, {
        method: 'POST',
        headers: { ...bearer(own.key), 'content-type': 'application/json' },
        body: JSON.stringify({ url: `http://127.0.0.1:${port}/`, events: ['job.completed'] }),
      });
      const endpoint = (await res.json()) as CreatedWebhookEndpoint;
      await upload(own.baseUrl, csvFile(['domain', 'vercel.com']));
      const list = async () =>
        (
          (await (
            await fetch(`${own.baseUrl}/api/v1/webhooks/${endpoint.id}/deliveries`, {
              headers: bearer(own.key),
            })
          ).json()) as { data: WebhookDelivery[] }
        ).data[0];
      await expect
        .poll(list, { timeout: 10_000 })
        .toMatchObject({ status: 'pending', last_error: 'no complete answer within 300 ms' });
      hang = false;
      await expect
        .poll(list, { timeout: 10_000 })
        .toMatchObject({ status: 'delivered', last_status_code: 204 });
    } finally {
      await own.stop();
      stalls.closeAllConnections();
      await new Promise<void>((resolve) => stalls.close(() => resolve()));
    }
  });

  it('is for admins, refuses private and metadata addresses, and keeps organizations apart', async () => {
    const member = await api.keyFor('acme', 'member');
    expect((await register({ url: receiver.url }, member)).status).toBe(403);
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.8/hook',
      'http://[::1]:8080/hook',
      'http://127.0.0.2/hook',
      'http://[::ffff:169.254.169.254]/latest/meta-data/',
      'http://user:pass@127.0.0.1/hook',
      'ftp://example.com/hook',
    ]) {
      const res = await register({ url });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, url).toBe(400);
      expect(body.error.code, url).toBe('VALIDATION_FAILED');
    }
    const refused = (await (await register({ url: 'http://169.254.169.254/' })).json()) as {
      error: { message: string };
    };
    expect(refused.error.message).toMatch(
      /169\.254\.169\.254 \(link-local \(cloud metadata\)\).*OUTBOUND_ALLOWED_CIDRS/,
    );

    const other = await api.keyFor('globex', 'admin');
    // At most 20 endpoints per organization (globex has none yet).
    const made: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await register({ url: `${receiver.url}/g${i}` }, other);
      expect(res.status).toBe(201);
      made.push(((await res.json()) as CreatedWebhookEndpoint).id);
    }
    const tooMany = await register({ url: `${receiver.url}/g20` }, other);
    expect(tooMany.status).toBe(409);
    for (const id of made) {
      await fetch(`${api.baseUrl}/api/v1/webhooks/${id}`, { method: 'DELETE', headers: bearer(other) });
    }
    const mine = (await (await register({ url: receiver.url })).json()) as CreatedWebhookEndpoint;
    const theirs = await fetch(`${api.baseUrl}/api/v1/webhooks/${mine.id}`, { headers: bearer(other) });
    expect(theirs.status).toBe(404);
    const theirList = await (
      await fetch(`${api.baseUrl}/api/v1/webhooks`, { headers: bearer(other) })
    ).text();
    expect(theirList).not.toContain(mine.id);
    const removed = await fetch(`${api.baseUrl}/api/v1/webhooks/${mine.id}`, {
      method: 'DELETE',
      headers: bearer(other),
    });
    expect(removed.status).toBe(404);
    expect((await apiFetch(`${api.baseUrl}/api/v1/webhooks/${mine.id}`, { method: 'DELETE' })).status).toBe(
      200,
    );
    expect((await apiFetch(`${api.baseUrl}/api/v1/webhooks/${mine.id}`)).status).toBe(404);
    // Where job data is sent is a change worth a record: both are in the audit log. The record is
    // written once the answer has gone (an onResponse hook), so it may land just after it.
    const auditedActions = async () => {
      const audit = (await (await apiFetch(`${api.baseUrl}/api/v1/audit-log`)).json()) as {
        data: { action: string; target_id: string | null }[];
      };
      return audit.data.filter((e) => e.target_id === mine.id).map((e) => e.action);
    };
    await expect.poll(auditedActions, { timeout: 5_000 }).toEqual(['webhook.delete', 'webhook.create']);
  });
});
