import type { Logger } from 'pino';
import type { Config } from './config';
import { loadConfigOrExit, stopOnSignal, warnIfNodeEndOfLife } from './lifecycle';
import { createLogger } from './logger';
import { createSystem, type Roles, resolveProviders, type System } from './system';

/**
 * Starts one role of the distributed mode (api or worker): both need PostgreSQL and Redis, and
 * stop the same way.
 */
export async function startDistributedRole(
  name: 'api' | 'worker',
  roles: Roles,
): Promise<{ config: Config; logger: Logger; system: System; address: string | null }> {
  const config = loadConfigOrExit();
  const logger = createLogger(config);
  warnIfNodeEndOfLife(logger);
  if (!config.DATABASE_URL || !config.REDIS_URL) {
    logger.fatal(
      `The ${name} process needs DATABASE_URL and REDIS_URL (for one process with neither, use npm start).`,
    );
    process.exit(1);
  }
  const providers = await resolveProviders(config, logger);
  let system: System;
  let address: string | null;
  try {
    system = await createSystem({ config, logger, databaseUrl: config.DATABASE_URL, roles, providers });
    address = await system.start();
  } catch (err) {
    // A database that cannot be reached or is behind this build's schema: one fatal line that
    // says why (exit 1, the orchestrator retries), not an unhandled rejection's stack trace.
    logger.fatal(
      { err },
      `the ${name} process could not start: ${err instanceof Error ? err.message : String(err)}`,
    );
    logger.flush();
    process.exit(1);
  }
  stopOnSignal(logger, [() => system.stop(), () => providers.stop()], { graceMs: config.SHUTDOWN_GRACE_MS });
  return { config, logger, system, address };
}
