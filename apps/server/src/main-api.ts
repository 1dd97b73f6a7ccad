/** The API role of the distributed mode: PostgreSQL at DATABASE_URL, tasks to BullMQ at REDIS_URL. */
import { loadConfigOrExit, stopOnSignal } from './lifecycle';
import { createLogger } from './logger';
import { createSystem, resolveProvider } from './system';

const config = loadConfigOrExit();
const logger = createLogger(config);
if (!config.DATABASE_URL || !config.REDIS_URL) {
  logger.fatal(
    'The api process needs DATABASE_URL and REDIS_URL (for one process with neither, use npm start).',
  );
  process.exit(1);
}
const provider = await resolveProvider(config, logger);
const system = await createSystem({
  config,
  logger,
  databaseUrl: config.DATABASE_URL,
  roles: { api: true, worker: false },
  provider,
});
if (!config.BOOTSTRAP_API_KEY && (await system.auth.countActiveKeys()) === 0) {
  logger.warn(
    'No API key exists yet, so every /api request will be refused: set BOOTSTRAP_API_KEY, or run ' +
      '`npm run cli -- org create <name>` and `npm run cli -- key create --org <id> --role admin`.',
  );
}
const address = await system.start();
stopOnSignal(logger, [() => system.stop(), () => provider.stop()]);
logger.info({ provider: provider.name }, `api ready at ${address} (docs at ${address}/docs)`);
