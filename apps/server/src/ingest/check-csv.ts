/**
 * Checks a whole CSV file as it streams past, without keeping its rows: the encoding is valid
 * throughout, there is no NUL, every quote is closed, no row exceeds MAX_RECORD_SIZE_BYTES, and
 * the data rows are counted (and refused past `maxRows` as soon as they pass it). An upload is
 * stored and answered on the strength of this check, so that reading the file into rows
 * (read-domain-csv.ts, with the same scanner) can happen after the answer without finding the
 * file bad.
 */
import { createCsvDecoder } from './csv-decoder';
import { type CsvEncoding, tooManyRowsError } from './csv-errors';
import { createCsvScanner } from './csv-scanner';

export type CsvCheck = {
  /** Feeds the next bytes of the file (BOM included: the decoder drops it). */
  push(bytes: Uint8Array): void;
  /** Ends the file; returns its data rows (the header is not one). */
  end(): { dataRows: number };
};

export function createCsvCheck(opts: {
  encoding: CsvEncoding;
  delimiter: string;
  maxRows: number;
  /** Records above the header (an Excel `sep=` line, report titles): neither header nor data. */
  recordsBeforeHeader?: number;
}): CsvCheck {
  const notData = 1 + (opts.recordsBeforeHeader ?? 0);
  const decode = createCsvDecoder(opts.encoding, { ignoreBOM: false });
  const scanner = createCsvScanner({
    delimiter: opts.delimiter,
    cells: false,
    onRecord: (records) => {
      if (records - notData > opts.maxRows) throw tooManyRowsError(opts.maxRows);
    },
  });

  const scan = (bytes: Uint8Array, stream: boolean) => {
    scanner.push(decode(bytes, { stream, lineBreaksBefore: scanner.line - 1 }));
  };

  return {
    push: (bytes) => scan(bytes, true),
    end() {
      scan(new Uint8Array(0), false);
      scanner.end();
      return { dataRows: Math.max(0, scanner.records - notData) };
    },
  };
}
