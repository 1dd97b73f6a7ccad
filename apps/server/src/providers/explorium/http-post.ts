/**
 * The client's default transport: one JSON POST over node:http(s) with keep-alive. The global
 * fetch does the same but costs about twice the CPU per call (web streams and body mixins: some
 * 1.5 ms more for a 50-record bulk_enrich answer of 27 KB, measured against the sandbox), which
 * shows when the provider answers at once. It behaves like fetch where the client depends on it:
 * no redirect is followed (`redirect: 'manual'`), the signal aborts the call and the reading of
 * its body, and a failure to connect is a `TypeError('fetch failed')` whose `cause` says why.
 */
import http from 'node:http';
import https from 'node:https';

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

const agents = {
  http: new http.Agent({ keepAlive: true }),
  https: new https.Agent({ keepAlive: true }),
};

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

export const httpPost: HttpPost = (url, init) =>
  new Promise<HttpResponse>((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const body = Buffer.from(init.body, 'utf8');
    const req = (secure ? https : http).request(
      target,
      {
        method: init.method,
        headers: { ...init.headers, 'content-length': String(body.length) },
        agent: secure ? agents.https : agents.http,
        signal: init.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const text = new Promise<string>((done, fail) => {
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) fail(init.signal.aborted ? init.signal.reason : new Error('response aborted'));
          });
        });
        // Read by the caller, or not at all when it stops at the status: never an unhandled rejection.
        text.catch(() => {});
        resolve({ status: res.statusCode ?? 0, headers: toHeaders(res.headers), text: () => text });
      },
    );
    req.on('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    req.end(body);
  });
