/**
 * The jobs service as the settings and the provider stack shape it: the upload reader's limits,
 * when an upload is read in the background, and what an estimate knows about the provider (its
 * rate limit, batch size, and how many batches the workers send at once).
 */
import type { Config } from '../config';
import { createCopyTransaction } from '../db/copy';
import type { DatabaseHandle } from '../db/database';
import type { Dispatcher } from '../dispatch/dispatcher';
import type { CachePolicy } from '../enrichment/cache-policy';
import { personalEmailDomainSet } from '../ingest/normalize-domain';
import { createUploadReader } from '../intake/read-upload';
import { traceUploadReader } from '../observability/instrument-uploads';
import type { Tracing } from '../observability/tracing';
import type { ProviderName, ProviderTraits } from '../providers/provider';
import type { ProviderRateLimit } from '../providers/provider-stack';
import type { TaskQueue } from '../queue/task-queue';
import { createJobsService, type JobsService } from './jobs.service';

export function jobsServiceFromSettings(
  config: Config,
  parts: {
    database: DatabaseHandle;
    dispatcher: Dispatcher;
    queue: TaskQueue;
    tracing: Tracing;
    /** Each provider this installation can ask, with its rate limit. */
    providers: ReadonlyArray<ProviderTraits & { rateLimit: ProviderRateLimit | null }>;
    /** The default waterfall. */
    waterfall: readonly ProviderName[];
    cache: CachePolicy;
  },
): JobsService {
  const reader = createUploadReader({
    maxRows: config.MAX_ROWS,
    blockedEmailDomains: personalEmailDomainSet(config.BLOCKED_EMAIL_DOMAINS),
  });
  return createJobsService({
    db: parts.database.db,
    traceContext: () => parts.tracing.inject(),
    copyTransaction: createCopyTransaction(parts.database.pool),
    dispatcher: parts.dispatcher,
    queue: parts.queue,
    reader: traceUploadReader(reader, parts.tracing),
    inlineMaxRows: config.UPLOAD_INLINE_MAX_ROWS,
    providers: {
      available: new Map(
        parts.providers.map((provider) => [
          provider.name,
          {
            rateLimit: provider.rateLimit,
            batchSize: provider.maxBatchSize,
            callsPerBatch: provider.matching === 'local' ? 1 : 2,
            creditsPerRecord: provider.creditsPerRecord,
            parallelBatches: Math.max(1, Math.floor(config.WORKER_CONCURRENCY / provider.maxBatchSize)),
          },
        ]),
      ),
      defaults: parts.waterfall,
    },
    cache: parts.cache,
  });
}
