import pino, { type Logger } from 'pino';
import type { Config } from './config';

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT' | 'NODE_ENV'>): Logger {
  const format = config.LOG_FORMAT ?? (config.NODE_ENV === 'development' ? 'pretty' : 'json');
  return pino({
    level: config.LOG_LEVEL,
    // Keys must never reach a log line, whoever logs the object.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.api_key',
        'req.headers.cookie',
        '*.apiKey',
        '*.api_key',
      ],
      censor: '[redacted]',
    },
    transport:
      format === 'pretty'
        ? { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } }
        : undefined,
  });
}
