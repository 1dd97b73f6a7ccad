/** The API's options as the settings give them (read once in config.ts). */
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { AppDeps } from './app';

export function apiOptions(
  config: Config,
  parts: { rateLimitRedis: Redis | null; defaultWebDir: string },
): Pick<AppDeps, 'maxUploadBytes' | 'webDir' | 'operatorKey' | 'limits'> {
  return {
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    webDir: config.WEB_DIR ?? parts.defaultWebDir,
    operatorKey: config.OPERATOR_API_KEY,
    limits: {
      rateLimitPerMinute: config.API_RATE_LIMIT_PER_MIN,
      rateLimitRedis: parts.rateLimitRedis,
      rateLimitNamespace: `${config.QUEUE_PREFIX}:api-rate-limit:`,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: config.HTTP_IDLE_TIMEOUT_MS,
      corsOrigins: config.CORS_ORIGINS,
      trustProxy: config.TRUST_PROXY,
    },
  };
}
