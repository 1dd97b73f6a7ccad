/**
 * The one error handler: every error leaves as `{ error: { code, message, details?, request_id } }`
 * with the status the code maps to. A 5xx says nothing about internals; the log has the rest.
 */
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
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
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
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: () => 'The request body is too large.' },
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
    req.log.error({ err }, 'request failed');
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
