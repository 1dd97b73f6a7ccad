/**
 * A provider that reports its window spent on every answer, with the reset a full window away
 * (one reading of X-RateLimit-Reset for a sliding window). Waiting until that reset each time cost
 * a minute every few calls; the wait is one pacing interval (providers/rate-limit/exhausted-window.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxServer } from '../src/providers/sandbox/sandbox-server';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

// Told to the workers: 600 calls a minute, one every ~100 ms.
const TOLD_LIMIT_PER_MIN = 600;
const COMPANIES = 200;

/** Forwards to the sandbox, saying on every answer that the window is full until now + 60 s. */
async function startSpentWindowProxy(targetUrl: string) {
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      new URL(req.url ?? '/', targetUrl),
      { method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, {
          ...up.headers,
          'x-ratelimit-limit': String(TOLD_LIMIT_PER_MIN),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 60),
        });
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('X-RateLimit-Remaining: 0 with the reset a window away', () => {
  let t: TestSystem;
  let sandbox: Awaited<ReturnType<typeof startSandboxServer>>;
  let proxy: Awaited<ReturnType<typeof startSpentWindowProxy>>;
  beforeAll(async () => {
    sandbox = await startSandboxServer({ apiKey: 'test-key' });
    proxy = await startSpentWindowProxy(sandbox.url);
    t = await startTestSystem({
      providerUrl: proxy.url,
      env: { SANDBOX_RATE_LIMIT_PER_MIN: String(TOLD_LIMIT_PER_MIN), SANDBOX_RATE_LIMIT_UNIT: 'request' },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await proxy?.close();
    await sandbox?.close();
  });

  it('slows calls to the pacing interval instead of stopping them until the reset', async () => {
    const domains = Array.from({ length: COMPANIES }, (_, i) => `spent-window-${i}.com`);
    const { id } = (await (await upload(t.baseUrl, csvFile(['domain', ...domains]))).json()) as Job;
    // About 8 calls a pacing interval apart: seconds. Waiting for each reset: minutes.
    await expect
      .poll(
        async () =>
          ((await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job).status,
        { timeout: 20_000, interval: 200 },
      )
      .toBe('completed');
    const calls = sandbox.stats().calls;
    expect(calls.match + calls.bulk_enrich).toBeGreaterThanOrEqual(2 * Math.ceil(COMPANIES / 50) - 1);
  }, 40_000);
});
