/**
 * A provider call is opened in the ledger right before it leaves and closed with what it billed:
 * a worker killed with the call in flight leaves it counted, with the most it may have billed
 * held against the job's budget. Through the Explorium client and the sandbox, on a real PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import {
  forgetProviderCall,
  jobCredits,
  jobUsages,
  openProviderCall,
  recordProviderCall,
} from '../src/enrichment/ledger.repository';
import { createProviderBatcher } from '../src/enrichment/provider-batcher';
import { insertJob } from '../src/jobs/jobs.repository';
import { createExploriumClient } from '../src/providers/explorium/explorium-client';
import { sandboxServers } from './sandbox-servers';
import { openMigratedTestDatabase } from './test-database';

const ORG = 'acme';
const KEY = 'ledger-open-key';

describe('provider calls opened before they leave', () => {
  let database: DatabaseHandle;
  let closeDb: () => Promise<void>;
  const sandbox = sandboxServers(KEY);

  beforeAll(async () => {
    ({ database, close: closeDb } = await openMigratedTestDatabase(ORG));
  });
  afterAll(async () => {
    await closeDb?.();
  });

  const newJob = () =>
    insertJob(database.db, {
      orgId: ORG,
      providers: ['sandbox'],
      filename: 'x.csv',
      total: 10,
      inputRows: 10,
      rejectedRows: 0,
    });

  function batcherAgainst(baseUrl: string, timeoutMs = 5_000) {
    const client = createExploriumClient({
      baseUrl,
      apiKey: KEY,
      name: 'sandbox',
      timeoutMs,
      logger: pino({ level: 'silent' }),
    });
    return createProviderBatcher(client, {
      windowMs: 5,
      onSend: (report) => openProviderCall(database.db, { provider: 'sandbox', ...report }),
      onUnsent: (callId) => forgetProviderCall(database.db, callId),
      onCall: async (report) => {
        await recordProviderCall(database.db, { provider: 'sandbox', ...report });
      },
    });
  }

  const rows = (jobId: string) =>
    database.db
      .execute<{ endpoint: string; status: number | null; items: number; credits: number }>(
        sql`select endpoint, status, items, credits from provider_calls where job_id = ${jobId} order by id`,
      )
      .then((r) => r.rows);

  it('holds a call in flight as counted with its most credits, then closes it with what it billed', async () => {
    const server = await sandbox({ latencyMs: 800 });
    const job = await newJob();
    const batcher = batcherAgainst(server.url);
    const caller = { orgId: ORG, jobId: job.id };
    const matches = await Promise.all(['stripe.com', 'apple.com'].map((d) => batcher.match(d, caller)));
    const ids = matches.map((m) => m.businessId!);
    const enriching = Promise.all(ids.map((id) => batcher.enrich(id, caller)));
    // In flight (the sandbox answers after 800 ms): already in the ledger, holding 2 credits.
    await expect
      .poll(async () => (await rows(job.id)).find((r) => r.endpoint === 'bulk_enrich'), { timeout: 700 })
      .toEqual({ endpoint: 'bulk_enrich', status: null, items: 2, credits: 2 });
    expect(await jobCredits(database.db, job.id)).toEqual({ spent: 2, held: 0 });
    await enriching;
    expect(await rows(job.id)).toEqual([
      { endpoint: 'match', status: 200, items: 2, credits: 0 },
      { endpoint: 'bulk_enrich', status: 200, items: 2, credits: 2 },
    ]);
    const stats = server.stats();
    expect((await jobUsages(database.db, [job.id])).get(job.id)?.providerCalls).toBe(
      Object.values(stats.calls).reduce((a, b) => a + b, 0),
    );
  });

  it('leaves no row for a call that could not connect, though it was opened', async () => {
    const server = await sandbox();
    const url = server.url;
    await server.close();
    const job = await newJob();
    const batcher = batcherAgainst(url);
    await expect(batcher.match('stripe.com', { orgId: ORG, jobId: job.id })).rejects.toMatchObject({
      reachedProvider: false,
    });
    expect(await rows(job.id)).toEqual([]);
  });

  it('counts a call once when its close is written twice (an answer lost with its connection)', async () => {
    const job = await newJob();
    const callId = randomUUID();
    const perJob = [{ orgId: ORG, jobId: job.id, items: 3, credits: 3 }];
    await openProviderCall(database.db, { provider: 'sandbox', endpoint: 'bulk_enrich', callId, perJob });
    await openProviderCall(database.db, { provider: 'sandbox', endpoint: 'bulk_enrich', callId, perJob });
    const close = {
      provider: 'sandbox',
      endpoint: 'bulk_enrich' as const,
      status: 200,
      durationMs: 5,
      correlationId: null,
      callId,
      perJob: [{ orgId: ORG, jobId: job.id, items: 3, credits: 1 }],
    };
    await recordProviderCall(database.db, close);
    await recordProviderCall(database.db, close);
    expect(await rows(job.id)).toEqual([{ endpoint: 'bulk_enrich', status: 200, items: 3, credits: 1 }]);
  });

  it('keeps a call sent but never answered (a timeout) holding the most it may have billed', async () => {
    const matched = await sandbox();
    const job = await newJob();
    const caller = { orgId: ORG, jobId: job.id };
    const { businessId } = await batcherAgainst(matched.url).match('stripe.com', caller);
    const slow = await sandbox({ latencyMs: 1_000 });
    await expect(batcherAgainst(slow.url, 200).enrich(businessId!, caller)).rejects.toMatchObject({
      kind: 'transient',
      reachedProvider: true,
    });
    expect((await rows(job.id)).find((r) => r.endpoint === 'bulk_enrich')).toEqual({
      endpoint: 'bulk_enrich',
      status: null,
      items: 1,
      credits: 1,
    });
  });
});
