/** `npm run sandbox`: the Explorium-compatible emulator on its own (synthetic data). */
import { loadConfigOrExit, stopOnSignal } from './lifecycle';
import { createLogger } from './logger';
import { startSandboxServer } from './providers/sandbox/sandbox-server';

const config = loadConfigOrExit();
const logger = createLogger(config);
const sandbox = await startSandboxServer({
  host: config.HOST,
  port: config.SANDBOX_PORT,
  latencyMs: config.SANDBOX_LATENCY_MS,
  errorRate: config.SANDBOX_ERROR_RATE,
  rateLimitPerMin: config.SANDBOX_RATE_LIMIT_PER_MIN,
  rateLimitUnit: config.SANDBOX_RATE_LIMIT_UNIT,
  rateLimitReset: config.SANDBOX_RATE_LIMIT_RESET,
  omitEmptyLists: config.SANDBOX_OMIT_EMPTY_LISTS,
  apiKey: config.SANDBOX_API_KEY,
});
stopOnSignal(logger, [() => sandbox.close()]);
logger.info(
  `sandbox (synthetic Explorium data) listening at ${sandbox.url}; stats at ${sandbox.url}/_sandbox/stats`,
);
