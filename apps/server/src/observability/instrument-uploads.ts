/**
 * Spans around the two readings of an upload: the check of the whole file as it arrives (in the
 * request) and the reading of the stored file into rows and companies (in the request for a small
 * file, in a worker's `ingest-upload` task for a large one).
 */
import type { UploadReader } from '../intake/read-upload';
import { inSpan, type Tracing } from './tracing';

export function traceUploadReader(reader: UploadReader, tracing: Tracing): UploadReader {
  if (!tracing.enabled) return reader;
  return {
    check: (source, opts) => inSpan(tracing.tracer, 'upload check', {}, () => reader.check(source, opts)),
    open: (source, opts) => inSpan(tracing.tracer, 'upload read', {}, () => reader.open(source, opts)),
    // The export reads the file as it streams its answer: a span would measure only the opening.
    records: (source, opts) => reader.records(source, opts),
  };
}
