/**
 * Conditional GETs for what the page polls: a weak ETag of the answer's content, and 304 with no
 * body when the client's If-None-Match holds it. A poll of a page that has not changed then costs
 * its query but neither the serialization, the compression nor the bytes.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

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

/**
 * Answers `body` with its ETag, or 304 when the request already holds it. `private, no-cache`:
 * the answer belongs to one API key, and is revalidated on every use. The JSON hashed is the JSON
 * sent (a string is not serialized again): the body is built by typed code from contracts
 * types, and validating it again per poll cost more than the query behind it.
 */
export function sendConditional(req: FastifyRequest, reply: FastifyReply, body: unknown): FastifyReply {
  const json = JSON.stringify(body);
  const tag = `W/"${createHash('sha1').update(json).digest('base64url')}"`;
  reply.header('etag', tag).header('cache-control', 'private, no-cache');
  // The key decides what is seen: a shared cache must never answer one key with another's page.
  const vary = reply.getHeader('vary');
  reply.header('vary', vary ? `${String(vary)}, Authorization` : 'Authorization');
  if (matches(req.headers['if-none-match'], tag)) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(json);
}
