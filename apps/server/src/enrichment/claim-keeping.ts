/**
 * What a process needs to keep the companies it claims: the database gate (writes held and
 * retried while PostgreSQL cannot be reached, no provider call meanwhile) and the held claims
 * whose leases it renews. Both the provider stack (the claim guard) and the worker use them.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { DatabaseHandle } from '../db/database';
import { createDatabaseGate, type DatabaseGate } from './database-gate';
import { createHeldClaims, type HeldClaims } from './held-claims';

// While the database cannot be reached, how often a worker asks whether it is back.
const DATABASE_PROBE_INTERVAL_MS = 500;

export function createClaimKeeping(opts: {
  database: DatabaseHandle;
  /** This process: its claims carry it (companies.claim_token). */
  token: string;
  config: Config;
  logger: Logger;
}): { gate: DatabaseGate; held: HeldClaims } {
  const { database, logger } = opts;
  const gate = createDatabaseGate({
    ping: () => database.ping(),
    probeIntervalMs: DATABASE_PROBE_INTERVAL_MS,
    onDown: (err) =>
      logger.error({ err }, 'database unreachable: provider calls paused, results held until it is back'),
    onUp: (ms) => logger.info({ down_ms: Math.round(ms) }, 'database reachable again: writing held results'),
  });
  const held = createHeldClaims({
    db: database.db,
    gate,
    token: opts.token,
    leaseMs: opts.config.CLAIM_LEASE_MS,
    renewIntervalMs: opts.config.CLAIM_RENEW_INTERVAL_MS,
    onLost: (c) =>
      logger.warn(
        { org_id: c.orgId, job_id: c.jobId, company_id: c.id },
        'lost the claim on a company (taken over while this worker was frozen or cut off); dropped it',
      ),
    onRenewFailed: (err) => logger.warn({ err }, 'could not renew claim leases; the next tick retries'),
  });
  return { gate, held };
}
