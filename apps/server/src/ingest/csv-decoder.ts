/**
 * Decodes an uploaded CSV's bytes chunk by chunk, refusing what no text file holds: a sequence
 * that is not valid in its encoding (naming the line: a silently mangled row is worse than a clear
 * "save as UTF-8") and NUL, which PostgreSQL text cannot hold either. Shared by the whole-file
 * check (check-csv.ts) and the reader (read-domain-csv.ts).
 */
import { type CsvEncoding, invalidEncodingError, lineOfInvalidBytes, notCsvBinary } from './csv-errors';

/** Decodes the next bytes; `lineBreaksBefore` places an invalid sequence on its line. */
export type CsvDecode = (bytes: Uint8Array, opts: { stream: boolean; lineBreaksBefore: number }) => string;

export function createCsvDecoder(encoding: CsvEncoding, opts: { ignoreBOM: boolean }): CsvDecode {
  const decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: opts.ignoreBOM });
  return (bytes, { stream, lineBreaksBefore }) => {
    let text: string;
    try {
      text = decoder.decode(bytes, { stream });
    } catch {
      throw invalidEncodingError(encoding, lineBreaksBefore + lineOfInvalidBytes(bytes, encoding));
    }
    if (text.includes('\0')) throw notCsvBinary();
    return text;
  };
}
