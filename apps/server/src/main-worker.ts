/** A worker of the distributed mode: run as many as the lists need, on as many machines. */
import { loadConfigOrExit, stopOnSignal } from './lifecycle';
import { createLogger } from './logger';
import { createSystem, resolveProvider } from './system';

const config = loadConfigOrExit();
const logger = createLogger(config);
if (!config.DATABASE_URL || !config.REDIS_URL) {
  logger.fatal('A worker needs DATABASE_URL and REDIS_URL (for one process with neither, use npm start).');
  process.exit(1);
}
const provider = await resolveProvider(config, logger);
const system = await createSystem({
  config,
  logger,
  databaseUrl: config.DATABASE_URL,
  roles: { api: false, worker: true },
  provider,
});
await system.start();
stopOnSignal(logger, [() => system.stop(), () => provider.stop()]);
logger.info({ provider: provider.name, concurrency: config.WORKER_CONCURRENCY }, 'worker ready');
