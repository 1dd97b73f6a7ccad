/**
 * Conditional GETs for what the page polls: a weak ETag of the answer's content, and 304 with no
 * body when the client's If-None-Match holds it.
 *
 * What a poll costs is kept small by an in-process cache of answers by content:
 * - an answer's compressed bodies are kept by its ETag, so content already sent is not
 *   compressed again (brotli or gzip cost more than the rest of a poll);
 * - a companies page is known by its version (its rows' ids and versions, see
 *   jobs.service's listCompanies): a poll first reads that version, a cheap query, and when an
 *   answer with that version is cached, its ETag answers the 304 and its bodies the 200 without
 *   reading the rows. The version stored with an answer is the one read with its own rows, so an
 *   answer is never filed under a version it does not have.
 * The ETag stays a hash of the content: the same in every process, and new when the code sends
 * the same rows in another shape.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Smaller answers are sent as they are (as @fastify/compress's default threshold). */
const COMPRESS_MIN_BYTES = 1_024;
/**
 * Larger answers (a 500-row page) are compressed by @fastify/compress as a stream, off the event
 * loop, and not kept.
 */
const COMPRESS_SYNC_MAX_BYTES = 256 * 1_024;
/**
 * Brotli's quality 2: JSON pages come out within a few percent of quality 4's size at a fraction
 * of its time (a 50-row page: about 0.4 ms against 5 ms on a busy two-core machine).
 */
const BROTLI_QUALITY = 2;
/** What the cache may hold, bodies counted by their bytes. */
export const ANSWER_CACHE_MAX_BYTES = 16 * 1_024 * 1_024;
/** Versions remembered (each a short key and an ETag). */
const VERSIONS_MAX = 20_000;

type Encoding = 'br' | 'gzip';

type Answer = { etag: string; json: string; bodies: Partial<Record<Encoding, Buffer>>; bytes: number };

export type AnswerCache = ReturnType<typeof createAnswerCache>;

/** Answers by ETag, least recently used dropped first; versions (a route's key) to the ETag. */
export function createAnswerCache(maxBytes = ANSWER_CACHE_MAX_BYTES) {
  const answers = new Map<string, Answer>();
  const versions = new Map<string, string>();
  let bytes = 0;
  const drop = (etag: string) => {
    const answer = answers.get(etag);
    if (!answer) return;
    answers.delete(etag);
    bytes -= answer.bytes;
  };
  const grow = (answer: Answer, by: number) => {
    answer.bytes += by;
    bytes += by;
    for (const oldest of answers.keys()) {
      if (bytes <= maxBytes || oldest === answer.etag) break;
      drop(oldest);
    }
  };
  return {
    /** The answer with this ETag, or null; freshly used. */
    answer(etag: string): Answer | null {
      const found = answers.get(etag);
      if (!found) return null;
      answers.delete(etag);
      answers.set(etag, found);
      return found;
    },
    /** The answer for `json` (whose ETag is `etag`), kept from now on unless it is large. */
    keep(etag: string, json: string): Answer {
      const kept = this.answer(etag);
      if (kept) return kept;
      const answer: Answer = { etag, json, bodies: {}, bytes: 0 };
      if (json.length > COMPRESS_SYNC_MAX_BYTES) return answer;
      answers.set(etag, answer);
      grow(answer, json.length);
      return answer;
    },
    /** A body of `answer` in `encoding`, compressed once. */
    body(answer: Answer, encoding: Encoding): Buffer {
      const kept = answer.bodies[encoding];
      if (kept) return kept;
      const body = compress(answer.json, encoding);
      answer.bodies[encoding] = body;
      if (answers.get(answer.etag) === answer) grow(answer, body.length);
      return body;
    },
    /** The ETag of the answer last sent for `version`, while that answer is kept. */
    etagOf(version: string): string | null {
      const etag = versions.get(version);
      return etag !== undefined && answers.has(etag) ? etag : null;
    },
    setVersion(version: string, etag: string): void {
      if (versions.size >= VERSIONS_MAX) versions.delete(versions.keys().next().value!);
      versions.set(version, etag);
    },
    get bytes() {
      return bytes;
    },
  };
}

function compress(json: string, encoding: Encoding): Buffer {
  if (encoding === 'gzip') return gzipSync(json);
  return brotliCompressSync(json, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(json),
    },
  });
}

/**
 * The encoding to answer in, as @fastify/compress negotiates it: brotli or gzip by the client's
 * q-values, brotli on a tie; `*` and `x-gzip` are read as gzip; null for none (identity).
 */
export function negotiateEncoding(header: string | undefined): Encoding | null {
  if (!header) return null;
  let best: Encoding | null = null;
  let bestQ = 0;
  for (const part of header.toLowerCase().split(',')) {
    const [token = '', ...params] = part.split(';').map((p) => p.trim());
    const name = token === '*' || token === 'x-gzip' ? 'gzip' : token;
    if (name !== 'br' && name !== 'gzip') continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    if (q > bestQ || (q === bestQ && name === 'br')) {
      best = name;
      bestQ = q;
    }
  }
  return best;
}

// Weak tags: the same content is sent gzip, brotli or plain, byte-for-byte different.
function matches(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  // Weak comparison (RFC 9110 §8.8.3.2): W/ prefixes are ignored on both sides.
  const opaque = tag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const given = t.trim();
    return given === '*' || given.replace(/^W\//, '') === opaque;
  });
}

const etagOf = (json: string) => `W/"${createHash('sha1').update(json).digest('base64url')}"`;

/**
 * `private, no-cache`: the answer belongs to one API key, and is revalidated on every use. The
 * body is sent compressed here when it is worth it (@fastify/compress leaves an answer that has
 * a Content-Encoding alone).
 */
function sendAnswer(
  req: FastifyRequest,
  reply: FastifyReply,
  cache: AnswerCache,
  etag: string,
  json: string,
): FastifyReply {
  reply.header('etag', etag).header('cache-control', 'private, no-cache');
  // The key decides what is seen: a shared cache must never answer one key with another's page.
  const vary = reply.getHeader('vary');
  reply.header(
    'vary',
    vary ? `${String(vary)}, Accept-Encoding, Authorization` : 'Accept-Encoding, Authorization',
  );
  if (matches(req.headers['if-none-match'], etag)) return reply.code(304).send();
  reply.type('application/json; charset=utf-8');
  const encoding = negotiateEncoding(req.headers['accept-encoding']);
  if (!encoding || json.length < COMPRESS_MIN_BYTES || json.length > COMPRESS_SYNC_MAX_BYTES) {
    return reply.send(json);
  }
  const body = cache.body(cache.keep(etag, json), encoding);
  return reply.header('content-encoding', encoding).send(body);
}

/**
 * Answers `body` with its ETag, or 304 when the request already holds it. The JSON hashed is the
 * JSON sent (a string is not serialized again): the body is built by typed code from contracts
 * types, and validating it again per poll cost more than the query behind it.
 */
export function sendConditional(
  req: FastifyRequest,
  reply: FastifyReply,
  cache: AnswerCache,
  body: unknown,
): FastifyReply {
  const json = JSON.stringify(body);
  return sendAnswer(req, reply, cache, etagOf(json), json);
}

/**
 * Answers what `load` reads, by version: `version()` reads what the answer would be now (a
 * short key, cheap to read); when an answer with that version is cached, it answers without
 * `load`. `load` returns the body with the version read with it. Keys must name everything the
 * answer depends on: the route, the organization, the parameters and the version of the data.
 */
export async function sendVersioned<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  cache: AnswerCache,
  key: (version: string) => string,
  version: () => Promise<string>,
  load: () => Promise<{ body: T; version: string }>,
): Promise<FastifyReply> {
  const known = cache.etagOf(key(await version()));
  if (known) {
    const answer = cache.answer(known);
    if (answer) return sendAnswer(req, reply, cache, known, answer.json);
  }
  const loaded = await load();
  const json = JSON.stringify(loaded.body);
  const etag = etagOf(json);
  cache.keep(etag, json);
  cache.setVersion(key(loaded.version), etag);
  return sendAnswer(req, reply, cache, etag, json);
}
