/**
 * The one error handler: every error leaves as `{ error: { code, message, details?, request_id } }`
 * with the status the code maps to. A 5xx says nothing about internals; the log has the rest.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { type AppErrorCode, isAppError } from '../errors';

export const STATUS_BY_CODE: Record<AppErrorCode, number> = {
  VALIDATION_FAILED: 400,
  MISSING_FILE: 400,
  EMPTY_FILE: 422,
  NOT_CSV: 415,
  UNSUPPORTED_ENCODING: 415,
  NO_DOMAIN_COLUMN: 422,
  NO_VALID_DOMAINS: 422,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_ROWS: 413,
  RECORD_TOO_LARGE: 413,
  INVALID_MULTIPART: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  CREDIT_LIMIT_TOO_LOW: 422,
  INVALID_CURSOR: 400,
  NOT_READY: 503,
  INTERNAL: 500,
};

// Framework and plugin errors a client can cause, said in words a person can act on.
const CLIENT_ERRORS: Record<string, { code: string; message: (e: FastifyError) => string }> = {
  FST_REQ_FILE_TOO_LARGE: {
    code: 'PAYLOAD_TOO_LARGE',
    message: () => 'The file is larger than the upload limit.',
  },
  FST_INVALID_MULTIPART_CONTENT_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: () => 'Send the file as multipart/form-data with a "file" part.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: (e) => `${e.message}. This endpoint takes multipart/form-data or JSON.`,
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: 'INVALID_JSON',
    message: () => 'The request body is not valid JSON.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON', message: () => 'The JSON body is empty.' },
  FST_FILES_LIMIT: { code: 'TOO_MANY_FILES', message: () => 'Send one file per upload.' },
  FST_PARTS_LIMIT: { code: 'TOO_MANY_PARTS', message: () => 'The form has too many parts.' },
  FST_FIELDS_LIMIT: { code: 'TOO_MANY_PARTS', message: () => 'The form has too many fields.' },
};

/**
 * busboy's errors for a multipart body it cannot frame: no boundary in the Content-Type, a body
 * that ends before its closing boundary, a part header it cannot read. They carry no code.
 */
const MULTIPART_FRAMING =
  /^(Multipart: Boundary not found|Unexpected end of (form|file|multipart data)|Malformed (part|content)|Malformed urlencoded|Part terminated early)/i;

/** PostgreSQL's "data exception" class (22xxx): a value it cannot store or compare. */
const PG_DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;

/** The error PostgreSQL raised, when `err` is one or wraps one (drizzle's DrizzleQueryError). */
function postgresError(err: unknown): { code: string; message: string } | null {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 3; depth++) {
    const { code, severity } = e as { code?: unknown; severity?: unknown };
    if (typeof code === 'string' && typeof severity === 'string') {
      return { code, message: String((e as { message?: unknown }).message) };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * What is logged of a failed request: drizzle's DrizzleQueryError puts the statement and its
 * parameters (a user's data) in its message, so the log gets the error PostgreSQL raised instead.
 */
export function loggableError(err: unknown): unknown {
  if (err instanceof Error && 'query' in err && 'params' in err) {
    const cause = (err as { cause?: unknown }).cause;
    const pg = postgresError(cause);
    return {
      type: err.name,
      message: pg ? `query failed: ${pg.message}` : 'query failed',
      code: pg?.code,
      stack: err.stack?.split('\n').slice(1).join('\n'),
    };
  }
  return err;
}

export type ErrorBodyOut = {
  error: { code: string; message: string; details?: Record<string, unknown>; request_id: string };
};

export function registerErrorHandling(
  app: FastifyInstance,
  opts: {
    maxUploadBytes: number;
    /** Answers an unknown page path with the web app's shell; returns false to fall through to a JSON 404. */
    serveWebShell?: (req: FastifyRequest, reply: FastifyReply) => boolean;
  },
): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const send = (status: number, code: string, message: string, details?: Record<string, unknown>) => {
      const body: ErrorBodyOut = { error: { code, message, request_id: String(req.id) } };
      if (details) body.error.details = details;
      return reply.status(status).send(body);
    };

    if (isAppError(err)) {
      const status = STATUS_BY_CODE[err.code];
      // RFC 6750: a 401 says which scheme to use (the queue dashboard has already set Basic).
      if (status === 401 && !reply.hasHeader('www-authenticate')) {
        reply.header('www-authenticate', 'Bearer realm="gtm-enrich"');
      }
      if (status >= 500) req.log.error({ err }, 'request failed');
      return send(status, err.code, err.message, err.details);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = req.routeOptions.bodyLimit;
      return send(
        413,
        'PAYLOAD_TOO_LARGE',
        `The request body is larger than the ${limit} bytes this endpoint accepts.`,
        { limit_bytes: limit },
      );
    }
    if (!err.code && MULTIPART_FRAMING.test(err.message)) {
      return send(
        400,
        'INVALID_MULTIPART',
        `The multipart/form-data body cannot be read (${err.message}). Send the form with a boundary in its ` +
          'Content-Type and the body complete, as browsers, curl -F and HTTP libraries do.',
      );
    }
    const pg = postgresError(err);
    if (pg && PG_DATA_EXCEPTION.test(pg.code)) {
      // A value from the request that PostgreSQL refused (out of range, malformed): the client's
      // to fix. Validation should have caught it first, so it is logged to be found.
      req.log.warn({ err: loggableError(err) }, 'request value refused by the database');
      return send(
        400,
        'VALIDATION_FAILED',
        'A value in the request is out of range or malformed (check ids, numbers, dates and cursors).',
      );
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        path: `${err.validationContext ?? 'request'}${v.instancePath.replaceAll('/', '.')}`,
        message: v.message ?? 'invalid',
      }));
      return send(400, 'VALIDATION_FAILED', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
        issues,
      });
    }
    const known = err.code ? CLIENT_ERRORS[err.code] : undefined;
    if (known) {
      const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 400;
      const details = known.code === 'PAYLOAD_TOO_LARGE' ? { limit_bytes: opts.maxUploadBytes } : undefined;
      const message =
        known.code === 'PAYLOAD_TOO_LARGE'
          ? `${known.message(err)} The limit is ${opts.maxUploadBytes} bytes (MAX_UPLOAD_BYTES).`
          : known.message(err);
      return send(known.code === 'PAYLOAD_TOO_LARGE' ? 413 : status, known.code, message, details);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return send(err.statusCode, err.code ?? 'BAD_REQUEST', err.message);
    }
    req.log.error({ err: loggableError(err) }, 'request failed');
    return send(
      500,
      'INTERNAL',
      'Something went wrong on our side. The request id helps us find it in the logs.',
    );
  });

  app.setNotFoundHandler((req, reply) => {
    if (opts.serveWebShell?.(req, reply)) return reply;
    const body: ErrorBodyOut = {
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: `No route ${req.method} ${req.url}.`,
        request_id: String(req.id),
      },
    };
    return reply.status(404).send(body);
  });
}

/**
 * Answers what Node's HTTP parser refuses before any route runs (headers too large, a request
 * that is not HTTP, one that took too long) in the one error shape, then closes the connection
 * as Node's own handler does.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let code = 'BAD_REQUEST';
  let message = 'The request is not valid HTTP/1.1.';
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    code = 'HEADERS_TOO_LARGE';
    message = `The request's headers are larger than the ${http.maxHeaderSize} bytes accepted in all: send fewer or shorter headers (cookies, say).`;
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    code = 'REQUEST_TIMEOUT';
    message =
      'The request did not arrive in time (HTTP_REQUEST_TIMEOUT_MS). Send it again, faster or smaller.';
  }
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code, message, request_id: requestId } } satisfies ErrorBodyOut);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * Fastify's `frameworkErrors`: a URL the router cannot decode (`%zz`) or a path parameter over
 * its length limit, answered in the one error shape instead of Fastify's own.
 */
export function frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'A value in the URL path is too long: ids are at most 100 characters.'
      : "The URL's path is not valid: check its percent-encoding (%XX with two hex digits).";
  const body: ErrorBodyOut = { error: { code: 'BAD_URL', message, request_id: String(req.id) } };
  void reply.status(400).header('x-request-id', String(req.id)).send(body);
}
