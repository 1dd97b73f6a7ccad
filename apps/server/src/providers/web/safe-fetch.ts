/**
 * GET of a URL on someone else's site, safe to aim at any name a user uploaded:
 * - every hop's host goes through the SSRF guard: an IP literal is checked before anything is
 *   sent, and a name is resolved, checked and connected to inside the socket's own lookup
 *   (undici `connect.lookup`), so the address connected to is the address checked and a DNS
 *   answer that changes in between (rebinding) cannot reach a private address;
 * - redirects are followed by hand, at most `maxRedirects`, each hop checked again (and asked of
 *   `beforeHop`, where robots.txt is consulted);
 * - the body is read up to `maxBytes` after decompression (a zip bomb stops there too), then the
 *   connection is dropped; the caller's signal bounds the whole exchange in time.
 * Direct connections only, never through HTTPS_PROXY: through a proxy the address reached is the
 * proxy's choice, which the guard cannot check.
 */
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { createSecureContext } from 'node:tls';
import { TextDecoder } from 'node:util';

import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';
import { RefusedAddressError, type SsrfGuard } from '../../webhooks/ssrf-guard';

export type FetchedPage = {
  /** Where the answer came from, after redirects. */
  url: URL;
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** The body was longer than `maxBytes`; `body` is its beginning. */
  truncated: boolean;
};

/**
 * - refused: an address the SSRF guard refuses (also mid-chain);
 * - unreachable: no answer (refused connection, TLS failure, unknown name, reset);
 * - timeout: the caller's deadline passed;
 * - redirects: more than `maxRedirects` hops, or a redirect to something not http(s).
 */
export type FetchFailure = 'refused' | 'unreachable' | 'timeout' | 'redirects' | 'robots';

export class FetchError extends Error {
  constructor(
    readonly reason: FetchFailure,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts);
    this.name = 'FetchError';
  }
}

export type SafeFetcherOptions = {
  guard: SsrfGuard;
  /** Sent with every request; names the project and a URL about it. */
  userAgent: string;
  /** Hops followed after the first request. Default 5. */
  maxRedirects?: number;
  /** Time to open a connection (TLS included), in ms. */
  connectTimeoutMs: number;
  /** Connections open at once to one origin. */
  connectionsPerOrigin: number;
  /**
   * Tests and the benchmark only: the port a URL without one goes to, per scheme, so that local
   * sites on random ports stand in for :80 and :443.
   */
  defaultPorts?: { 'http:'?: number; 'https:'?: number };
};

export type GetOptions = {
  maxBytes: number;
  signal: AbortSignal;
  /** Asked before each redirect hop is requested; false stops the chain (robots.txt). */
  beforeHop?: (url: URL) => Promise<boolean>;
  accept?: string;
};

export type SafeFetcher = {
  get(url: URL, opts: GetOptions): Promise<FetchedPage>;
  close(): Promise<void>;
};

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function joinHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function findCause<T>(err: unknown, type: abstract new (...args: never[]) => T): T | null {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof type) return e;
  }
  return null;
}

function decoderFor(contentType: string | undefined): TextDecoder {
  const charset = /charset\s*=\s*"?([\w-]+)/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8');
  } catch {
    return new TextDecoder('utf-8');
  }
}

function decompressed(body: Readable, encoding: string | undefined): Readable {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return body.pipe(createGunzip());
    case 'deflate':
      return body.pipe(createInflate());
    case 'br':
      return body.pipe(createBrotliDecompress());
    default:
      return body;
  }
}

/** Drops a body not (fully) read: its connection closes, and the abort it reports goes nowhere. */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

/** Reads at most `maxBytes` of the (decompressed) body, then drops the rest of it. */
async function readLimited(
  res: Dispatcher.ResponseData,
  maxBytes: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const stream = decompressed(res.body, joinHeaders(res.headers)['content-encoding']);
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  let complete = false;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (size + buf.length > maxBytes) {
        chunks.push(buf.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(buf);
      size += buf.length;
    }
    complete = !truncated;
  } finally {
    // A body read to its end leaves its connection to be reused (robots.txt, then the page);
    // one cut short or failed closes it.
    if (!complete) {
      if (stream !== res.body) discard(stream);
      discard(res.body);
    }
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

export function createSafeFetcher(opts: SafeFetcherOptions): SafeFetcher {
  const maxRedirects = opts.maxRedirects ?? 5;
  let closing: Promise<void> | null = null;
  const agent = new Agent({
    connect: {
      lookup: opts.guard.lookup,
      timeout: opts.connectTimeoutMs,
      // One TLS context (the root certificates parsed once) for every site, not one per connection.
      secureContext: createSecureContext(),
    },
    connections: opts.connectionsPerOrigin,
    // One homepage and its robots.txt per site: a connection idle for a second is not reused.
    keepAliveTimeout: 1_000,
    keepAliveMaxTimeout: 1_000,
  });

  function target(url: URL): URL {
    const port = opts.defaultPorts?.[url.protocol as 'http:' | 'https:'];
    if (url.port !== '' || port === undefined) return url;
    const moved = new URL(url);
    moved.port = String(port);
    return moved;
  }

  async function request(url: URL, get: GetOptions): Promise<Dispatcher.ResponseData> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FetchError('redirects', `not an http(s) URL: ${url.protocol}`);
    }
    // An IP literal never reaches the socket's lookup: it is checked here.
    const bare = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(bare)) {
      const kind = opts.guard.refusal(bare);
      if (kind) throw new FetchError('refused', new RefusedAddressError(url.host, bare, kind).message);
    }
    const to = target(url);
    try {
      return await agent.request({
        origin: to.origin,
        path: `${to.pathname}${to.search}`,
        method: 'GET',
        headers: {
          'user-agent': opts.userAgent,
          accept: get.accept ?? 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.5',
          'accept-encoding': 'gzip, deflate, br',
          // The Host header names the site, not the stand-in port of tests.
          host: url.host,
        },
        signal: get.signal,
      });
    } catch (err) {
      throw classify(err, url, get.signal);
    }
  }

  function classify(err: unknown, url: URL, signal: AbortSignal): FetchError {
    const refused = findCause(err, RefusedAddressError);
    if (refused) return new FetchError('refused', refused.message, { cause: err });
    if (err instanceof FetchError) return err;
    if (signal.aborted) return new FetchError('timeout', `${url.origin}: no answer in time`, { cause: err });
    const code = (err as { code?: string }).code ?? (err as Error).name;
    return new FetchError('unreachable', `${url.origin}: ${code}`, { cause: err });
  }

  return {
    async get(start, get) {
      let url = start;
      for (let hop = 0; ; hop++) {
        const res = await request(url, get);
        const location = res.headers.location;
        if (REDIRECT_STATUSES.has(res.statusCode) && typeof location === 'string') {
          discard(res.body);
          if (hop >= maxRedirects) {
            throw new FetchError('redirects', `more than ${maxRedirects} redirects from ${start.href}`);
          }
          let next: URL;
          try {
            next = new URL(location, url);
          } catch {
            throw new FetchError('redirects', `a redirect to something that is not a URL: ${location}`);
          }
          if (get.beforeHop && !(await get.beforeHop(next))) {
            throw new FetchError('robots', `robots.txt disallows ${next.href}`);
          }
          url = next;
          continue;
        }
        try {
          const { bytes, truncated } = await readLimited(res, get.maxBytes);
          const headers = joinHeaders(res.headers);
          return {
            url,
            status: res.statusCode,
            headers,
            body: decoderFor(headers['content-type']).decode(bytes),
            truncated,
          };
        } catch (err) {
          throw classify(err, url, get.signal);
        }
      }
    },
    close() {
      closing ??= agent.close();
      return closing;
    },
  };
}
