/**
 * Security headers (helmet) with a Content-Security-Policy that lets exactly our own scripts
 * run, and CORS for the origins an operator lists (none by default: same origin only).
 *
 * The page is a Next.js static export: its few inline bootstrap scripts are allowed by their
 * SHA-256, computed here from the built files, so no 'unsafe-inline' script is allowed on it.
 * The API reference at /docs (Scalar) is one bundled script from /docs plus an inline
 * configuration script, so it gets its own policy.
 *
 * The headers do not depend on the request, only on which of three kinds of answer it gets (the
 * page, the API reference, the API), so helmet computes each set once at start-up and every
 * request is given its set as is: built per request (as @fastify/helmet does) they cost a poll
 * more than its own work.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { AppError } from '../errors';

const INLINE_SCRIPT = /<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi;

function htmlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.html'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** `'sha256-…'` sources for every inline script of the given HTML. Exported for tests. */
export function inlineScriptHashes(html: string): string[] {
  const out = new Set<string>();
  for (const m of html.matchAll(INLINE_SCRIPT)) {
    const body = m[1] ?? '';
    if (body.trim() === '') continue;
    out.add(`'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
  }
  return [...out];
}

function webScriptHashes(webDir: string): string[] {
  const all = new Set<string>();
  for (const file of htmlFiles(webDir)) {
    for (const h of inlineScriptHashes(readFileSync(file, 'utf8'))) all.add(h);
  }
  return [...all].sort();
}

const COMMON = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  // React and Scalar set style attributes and <style> elements; styles cannot run code.
  styleSrc: ["'self'", "'unsafe-inline'"],
  // Would send a page served over plain HTTP (a laptop, a LAN) to https:// for every asset.
  upgradeInsecureRequests: null,
};

const API_POLICY = "default-src 'none'; script-src 'none'; frame-ancestors 'none'";
const DOCUMENT_ONLY_HEADERS = [
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

function serialize(directives: Record<string, string[] | null>): string {
  return Object.entries(directives)
    .filter((e): e is [string, string[]] => e[1] !== null)
    .map(([k, v]) => `${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${v.join(' ')}`)
    .join('; ');
}

/** The headers helmet sets with `options`, as [lower-case name, value] pairs. */
function helmetHeaders(options: Readonly<HelmetOptions>): [string, string][] {
  const headers = new Map<string, string>();
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers.set(name.toLowerCase(), String(value));
    },
    removeHeader: (name: string) => {
      headers.delete(name.toLowerCase());
    },
  };
  // helmet only sets and removes headers on the response: a stand-in that records them is enough.
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return [...headers];
}

export async function registerSecurity(
  app: FastifyInstance,
  opts: { webDir: string | null; corsOrigins: string[]; docsPrefix: string },
): Promise<void> {
  const scriptSrc = ["'self'", ...(opts.webDir ? webScriptHashes(opts.webDir) : [])];
  const page = helmetHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: { ...COMMON, scriptSrc } },
    // The page loads nothing cross-origin; COEP would only get in the way of a later CDN.
    crossOriginEmbedderPolicy: false,
  });
  // Scalar's page: its bundle from /docs and its inline configuration script (whose content
  // depends on the plugin's version and options, so it is allowed as inline on this page only).
  const docsPolicy = serialize({ ...COMMON, scriptSrc: ["'self'", "'unsafe-inline'"] });
  const docs = page.map(([name, value]): [string, string] =>
    name === 'content-security-policy' ? [name, docsPolicy] : [name, value],
  );
  // An API answer is data, never a document that loads or runs anything: the page's policy (its
  // script hashes) and the headers that only govern documents would add most of a kilobyte to
  // every poll. nosniff, HSTS, frame and referrer policies stay.
  const api = page
    .filter(([name]) => !DOCUMENT_ONLY_HEADERS.includes(name))
    .map(([name, value]): [string, string] =>
      name === 'content-security-policy' ? [name, API_POLICY] : [name, value],
    );
  const isDocs = (url: string) => url === opts.docsPrefix || url.startsWith(`${opts.docsPrefix}/`);

  // On the raw response, as helmet does: every answer has them, a 401 or a 404 too, and a
  // route can still replace one.
  app.addHook('onRequest', (req, reply, done) => {
    const headers = req.url.startsWith('/api/') ? api : isDocs(req.url) ? docs : page;
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });

  if (opts.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: opts.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'accept', 'x-request-id'],
      exposedHeaders: [
        'x-request-id',
        'location',
        'content-disposition',
        'retry-after',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
      maxAge: 600,
    });
  }
}

/** How long a connection whose request was answered before its body was read may go on sending. */
const UNREAD_BODY_GRACE_MS = 2_000;

function findNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (depth > 32 || value === null || typeof value !== 'object') return false;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\0') || findNul(v, depth + 1)) return true;
  }
  return false;
}

/**
 * Guards that hold for every route, whatever its schema says:
 * - no NUL in a path parameter, query value or JSON body: PostgreSQL text cannot hold one, so it
 *   would fail as a 500 deep in a query instead of a 400 here;
 * - a request answered before its body was read (an upload refused from its first bytes, a 401 on
 *   a large POST) has the rest of its body discarded for a short grace, after which its socket is
 *   destroyed: left paused, the connection would stay half-read until the idle timeout, and a
 *   shutdown would wait for it.
 */
export function registerInputGuards(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    if (findNul(req.params) || findNul(req.query) || findNul(req.body)) {
      throw new AppError(
        'VALIDATION_FAILED',
        'The request holds a NUL character (\\0, %00) in a path, query or body value; remove it.',
      );
    }
  });
  app.addHook('onResponse', async (req) => {
    if (req.raw.complete) return;
    const socket = req.raw.socket;
    // Unpiped from the multipart parser and read to nowhere: a socket closed with unread bytes
    // sends a reset, which can cost the client the answer it has not read yet.
    req.raw.unpipe();
    req.raw.resume();
    const timer = setTimeout(() => socket.destroy(), UNREAD_BODY_GRACE_MS).unref();
    req.raw.once('end', () => clearTimeout(timer));
  });
}
