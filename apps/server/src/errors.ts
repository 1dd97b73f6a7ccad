/**
 * Errors the application raises on purpose. Each carries a stable code; http/errors.ts maps
 * every code to one HTTP status, so domain code never speaks HTTP.
 */
export const APP_ERROR_CODES = [
  'VALIDATION_FAILED',
  'MISSING_FILE',
  'EMPTY_FILE',
  'NOT_CSV',
  'UNSUPPORTED_ENCODING',
  'NO_DOMAIN_COLUMN',
  'NO_VALID_DOMAINS',
  'PAYLOAD_TOO_LARGE',
  'TOO_MANY_ROWS',
  'RECORD_TOO_LARGE',
  'INVALID_MULTIPART',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'NOT_FOUND',
  'CONFLICT',
  'IDEMPOTENCY_KEY_REUSED',
  'CREDIT_LIMIT_TOO_LOW',
  'INVALID_CURSOR',
  'NOT_READY',
  'INTERNAL',
] as const;
export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
