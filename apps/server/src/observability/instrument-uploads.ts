/**
 * A span around ingesting an upload: stream-parse, header detection and normalization, and the
 * COPY of its rows into the database, which run interleaved as the body arrives.
 */
import type { UploadReader } from '../jobs/read-upload';
import { inSpan, type Tracing } from './tracing';

export function traceUploadReader(reader: UploadReader, tracing: Tracing): UploadReader {
  if (!tracing.enabled) return reader;
  return {
    ingest: (source, opts, create) =>
      inSpan(tracing.tracer, 'upload parse', {}, async (span) => {
        const result = await reader.ingest(source, opts, create);
        const { job } = result;
        span.setAttributes({
          'gtm.upload.input_rows': job.input_rows,
          'gtm.upload.companies': job.total,
          'gtm.upload.rejected_rows': job.rejected_rows,
          'gtm.upload.duplicates': job.input_rows - job.rejected_rows - job.total,
          'gtm.upload.replayed': result.replayed,
        });
        return result;
      }),
  };
}
