/**
 * Provider calls leave through the egress proxy the environment names (HTTP_PROXY, HTTPS_PROXY,
 * NO_PROXY), checked with a real forward proxy on loopback in front of the sandbox.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { EnvHttpProxyAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxServer } from '../sandbox/sandbox-server';
import { createHttpPost, createProviderHttpPost, type HttpPost } from './http-post';

type Proxy = { url: string; seen: string[]; close(): Promise<void> };

/** A forward proxy: CONNECT tunnels and absolute-URI requests, each noted in `seen`. */
async function startProxy(): Promise<Proxy> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];

describe('httpPost and the egress proxy', () => {
  let sandbox: Awaited<ReturnType<typeof startSandboxServer>>;
  let proxy: Proxy;
  const saved = Object.fromEntries(PROXY_VARIABLES.map((k) => [k, process.env[k]]));
  beforeAll(async () => {
    sandbox = await startSandboxServer({ apiKey: 'k' });
    proxy = await startProxy();
  });
  afterEach(() => {
    for (const k of PROXY_VARIABLES) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    proxy.seen.length = 0;
  });
  afterAll(async () => {
    await proxy?.close();
    await sandbox?.close();
  });

  /** A match call to the sandbox, by default with a transport that reads the environment as it is now. */
  async function matchStripe(
    post: HttpPost = createHttpPost(new EnvHttpProxyAgent()),
  ): Promise<{ status: number; body: unknown }> {
    const res = await post(`${sandbox.url}/v1/businesses/match`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', api_key: 'k' },
      body: JSON.stringify({ businesses_to_match: [{ domain: 'stripe.com' }] }),
      signal: AbortSignal.timeout(5_000),
      redirect: 'manual',
    });
    return { status: res.status, body: JSON.parse(await res.text()) };
  }

  it('goes through HTTP_PROXY when it is set', async () => {
    for (const k of PROXY_VARIABLES) delete process.env[k];
    process.env.HTTP_PROXY = proxy.url;
    const { status, body } = await matchStripe();
    expect(status).toBe(200);
    expect(JSON.stringify(body)).toContain('stripe.com');
    const host = new URL(sandbox.url).host;
    expect(proxy.seen).toHaveLength(1);
    expect(proxy.seen[0]).toMatch(new RegExp(`^(CONNECT ${host}|POST http://${host}/v1/businesses/match)$`));
  });

  it('goes direct to a host NO_PROXY names', async () => {
    for (const k of PROXY_VARIABLES) delete process.env[k];
    process.env.HTTP_PROXY = proxy.url;
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NO_PROXY = 'example.com,127.0.0.1';
    expect((await matchStripe()).status).toBe(200);
    expect(proxy.seen).toEqual([]);
  });

  it('goes direct without proxy settings', async () => {
    for (const k of PROXY_VARIABLES) delete process.env[k];
    expect((await matchStripe()).status).toBe(200);
    expect(proxy.seen).toEqual([]);
  });

  it('sends a real provider through the configured proxy, and the sandbox directly whatever the environment says', async () => {
    for (const k of PROXY_VARIABLES) delete process.env[k];
    const explorium = createProviderHttpPost({ viaProxy: true, httpProxy: proxy.url });
    expect((await matchStripe(explorium)).status).toBe(200);
    expect(proxy.seen).toHaveLength(1);
    process.env.HTTP_PROXY = proxy.url;
    const sandboxPost = createProviderHttpPost({ viaProxy: false });
    expect((await matchStripe(sandboxPost)).status).toBe(200);
    expect(proxy.seen).toHaveLength(1);
  });

  it('fails to connect as fetch does: a TypeError whose cause says why', async () => {
    for (const k of PROXY_VARIABLES) delete process.env[k];
    const post = createHttpPost(new EnvHttpProxyAgent());
    const closed = await startProxy();
    await closed.close();
    const error = await post(`${closed.url}/v1/businesses/match`, {
      method: 'POST',
      headers: {},
      body: '{}',
      signal: AbortSignal.timeout(5_000),
      redirect: 'manual',
    }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
  });
});
