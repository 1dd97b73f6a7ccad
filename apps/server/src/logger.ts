import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config';
import { logContextMixin } from './observability/log-context';

/** Keys must never reach a log line, whoever logs the object (config objects, headers, errors). */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.api_key',
  'req.headers.cookie',
  'headers.api_key',
  '*.headers.api_key',
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'EXPLORIUM_API_KEY',
  'SANDBOX_API_KEY',
  'DATABASE_URL',
  'REDIS_URL',
  '*.EXPLORIUM_API_KEY',
  '*.SANDBOX_API_KEY',
  '*.DATABASE_URL',
  '*.REDIS_URL',
  'password',
  '*.password',
];

export function createLogger(
  config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT' | 'NODE_ENV'>,
  /** Where JSON lines go (tests); default stdout. */
  destination?: DestinationStream,
): Logger {
  const format = config.LOG_FORMAT ?? (config.NODE_ENV === 'development' ? 'pretty' : 'json');
  const options: pino.LoggerOptions = {
    level: config.LOG_LEVEL,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // job_id, company_id, org_id of the task being handled and the active trace_id, on every line.
    mixin: logContextMixin,
    // "level":"warn", not 40: what log collectors and people filter on without a lookup table.
    formatters: format === 'json' ? { level: (label) => ({ level: label }) } : undefined,
    transport:
      format === 'pretty' && !destination
        ? { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } }
        : undefined,
  };
  return destination ? pino(options, destination) : pino(options);
}
