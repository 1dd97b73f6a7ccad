/**
 * Tests and the benchmark only: company websites on loopback. One plain HTTP server per address,
 * routing by the Host header (without its port) and the path, so that many "sites" share a port
 * that stands in for :80 and :443. Counts connections and requests, which is how a test proves
 * something was never reached.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Page =
  | string
  | { status?: number; headers?: Record<string, string>; body?: string }
  | ((req: IncomingMessage, res: ServerResponse) => void);

/** host name → path → page; a missing robots.txt is a 404, any other missing path too. */
export type Sites = Record<string, Record<string, Page>>;

export type LocalSites = {
  port: number;
  /** `host path` of every request, in order. */
  readonly requests: string[];
  readonly connections: number;
  /** Connections that did not speak HTTP: on these plain-HTTP ports, each is an HTTPS attempt. */
  readonly notHttp: number;
  close(): Promise<void>;
};

export async function startLocalSites(
  sites: Sites | ((host: string, path: string) => Page | undefined),
  opts: { address?: string; port?: number } = {},
): Promise<LocalSites> {
  const requests: string[] = [];
  let connections = 0;
  let notHttp = 0;
  const sockets = new Set<Socket>();
  const pageOf = (host: string, path: string) =>
    typeof sites === 'function' ? sites(host, path) : sites[host]?.[path];

  const server = http.createServer((req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const path = req.url ?? '/';
    requests.push(`${host} ${path}`);
    const page = pageOf(host, path);
    if (page === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    } else if (typeof page === 'function') {
      page(req, res);
    } else if (typeof page === 'string') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    } else {
      res
        .writeHead(page.status ?? 200, { 'content-type': 'text/html; charset=utf-8', ...page.headers })
        .end(page.body ?? '');
    }
  });
  server.on('clientError', (_err, socket) => {
    notHttp++;
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.address ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get connections() {
      return connections;
    },
    get notHttp() {
      return notHttp;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
