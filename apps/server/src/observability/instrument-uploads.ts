/** A span around reading an upload (stream-parse, header detection, normalization), with what it found. */
import type { UploadReader } from '../jobs/read-upload';
import { inSpan, type Tracing } from './tracing';

export function traceUploadReader(reader: UploadReader, tracing: Tracing): UploadReader {
  if (!tracing.enabled) return reader;
  return {
    read: (source, opts) =>
      inSpan(tracing.tracer, 'upload parse', {}, async (span) => {
        const parsed = await reader.read(source, opts);
        span.setAttributes({
          'gtm.upload.input_rows': parsed.inputRows,
          'gtm.upload.companies': parsed.companies.length,
          'gtm.upload.rejected_rows': parsed.rejected.length,
          'gtm.upload.duplicates': parsed.duplicates,
        });
        return parsed;
      }),
  };
}
