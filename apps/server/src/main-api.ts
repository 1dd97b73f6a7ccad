/** The API role of the distributed mode: PostgreSQL at DATABASE_URL, tasks to BullMQ at REDIS_URL. */
import { startDistributedRole } from './distributed-role';

const { config, logger, system, address } = await startDistributedRole('api', { api: true, worker: false });
if (!config.BOOTSTRAP_API_KEY && (await system.auth.countActiveKeys()) === 0) {
  logger.warn(
    'No API key exists yet, so every /api request will be refused: set BOOTSTRAP_API_KEY, or run ' +
      '`npm run cli -- org create <name>` and `npm run cli -- key create --org <id> --role admin`.',
  );
}
logger.info(
  { providers: system.providers.waterfall.join(',') },
  `api ready at ${address} (docs at ${address}/docs)`,
);
