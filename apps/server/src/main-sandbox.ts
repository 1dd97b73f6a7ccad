/** `npm run sandbox`: the emulators of Explorium and People Data Labs on their own (synthetic data). */
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
  `sandbox (synthetic data) listening at ${sandbox.url}: Explorium's API under /v1 (stats at /_sandbox/stats), ` +
    "People Data Labs' under /v5 (counts at /_emulator/counts). Point EXPLORIUM_BASE_URL or PDL_BASE_URL at it.",
);
