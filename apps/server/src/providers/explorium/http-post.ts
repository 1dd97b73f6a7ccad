/**
 * The client's default transport: one JSON POST through undici, which leaves by the egress proxy
 * the environment names: `HTTPS_PROXY` / `HTTP_PROXY` (or their lower-case forms) for calls to
 * https / http URLs, except to hosts in `NO_PROXY`; without them, directly. Read once, at start.
 *
 * undici's request() rather than the global fetch: fetch costs about twice the CPU per call (web
 * streams and body mixins, some 1.5 ms more for a 50-record bulk_enrich answer of 27 KB), which
 * shows when the provider answers at once; request() costs no more than the node:http POST this
 * replaced (docs/performance.md). It behaves like fetch where the client depends on it: no
 * redirect is followed, the signal aborts the call and the reading of its body, and a failure to
 * connect is a `TypeError('fetch failed')` whose `cause` says why.
 */
import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from 'undici';

/** What the client reads of an answer; a fetch Response has it too, so tests can pass a fake fetch. */
export type HttpResponse = Pick<Response, 'status' | 'headers' | 'text'>;

export type HttpPost = (
  url: string,
  init: {
    method: 'POST';
    headers: Record<string, string>;
    body: string;
    signal: AbortSignal;
    redirect: 'manual';
  },
) => Promise<HttpResponse>;

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

/**
 * A POST through `dispatcher`; by default one that follows HTTPS_PROXY, HTTP_PROXY and NO_PROXY
 * (keep-alive connections, to the proxy or to the provider).
 */
export function createHttpPost(dispatcher: Dispatcher = new EnvHttpProxyAgent()): HttpPost {
  return async (url, init) => {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: init.method,
        headers: init.headers,
        body: init.body,
        signal: init.signal,
        dispatcher,
      });
    } catch (err) {
      throw new TypeError('fetch failed', { cause: err });
    }
    // Read at once, by the caller or not at all when it stops at the status: an unread body
    // would hold its connection. Never an unhandled rejection.
    const text = res.body.text();
    text.catch(() => {});
    return { status: res.statusCode, headers: toHeaders(res.headers), text: () => text };
  };
}

/**
 * The transport for one provider: through the egress proxy for a real provider (the settings
 * given, else HTTPS_PROXY / HTTP_PROXY / NO_PROXY and their lower-case forms, as undici reads
 * them), directly for the sandbox, which runs on loopback or beside the workers.
 */
export function createProviderHttpPost(opts: {
  viaProxy: boolean;
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}): HttpPost {
  return createHttpPost(
    opts.viaProxy
      ? new EnvHttpProxyAgent({
          httpProxy: opts.httpProxy,
          httpsProxy: opts.httpsProxy,
          noProxy: opts.noProxy,
        })
      : new Agent(),
  );
}

let shared: HttpPost | null = null;

/** One dispatcher (one connection pool) per process, made on first use. */
export const httpPost: HttpPost = (url, init) => {
  shared ??= createHttpPost();
  return shared(url, init);
};
