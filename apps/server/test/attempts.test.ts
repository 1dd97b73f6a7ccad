/**
 * A company's attempts are for the provider failing on it, and a retry does not redo what already
 * succeeded: at a 20 % provider error rate, with the default TASK_MAX_ATTEMPTS, next to no company
 * fails, and matches are not repeated. Through the sandbox, over real HTTP and PostgreSQL.
 */
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { expectJobInvariants } from './invariants';
import { csvFile, startTestSystem, type TestSystem, upload, waitForJob } from './test-system';

const COMPANIES = 2_000;
const ERROR_RATE = 0.2;

describe('attempts at a 20 % provider error rate', () => {
  let t: TestSystem;
  beforeAll(async () => {
    // Short backoffs keep the test quick; the attempts per company stay at their default.
    t = await startTestSystem({ sandbox: { errorRate: ERROR_RATE } });
    expect(t.system.config.TASK_MAX_ATTEMPTS).toBe(loadConfig({}).TASK_MAX_ATTEMPTS);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('fails at most 0.1 % of companies and matches each domain about once per answered call', async () => {
    const domains = Array.from({ length: COMPANIES }, (_, i) => `attempts-${i}.com`);
    const res = await upload(t.baseUrl, csvFile(['domain', ...domains]));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as Job;
    const job = await waitForJob(t.baseUrl, id, { timeoutMs: 120_000 });
    expect(job.counts.enriched + job.counts.not_found + job.counts.failed).toBe(COMPANIES);
    expect(job.counts.failed).toBeLessThanOrEqual(COMPANIES * 0.001);

    // A failed enrichment keeps its business id: no domain is matched again after an answered match.
    const stats = t.sandbox.stats();
    const matchedTwice = Object.values(stats.domainsMatched).filter((n) => n > 1).length;
    expect(matchedTwice).toBe(0);
    await expectJobInvariants(t.system.database.db);
  }, 180_000);
});
