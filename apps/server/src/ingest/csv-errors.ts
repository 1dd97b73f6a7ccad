/**
 * The errors a CSV upload can be refused with, shared by the first-bytes sniffing and reading
 * (read-domain-csv.ts), the record scanner (csv-scanner.ts) and the whole-file check (check-csv.ts).
 */
import { AppError } from '../errors';

export type CsvEncoding = 'utf-8' | 'utf-16le' | 'utf-16be';

/**
 * The most characters one record (row) may hold, quoted or not. It bounds the memory of reading a
 * file and exporting its rows, and a quote never closed (the rest of the file would become one
 * field) is caught by it too.
 */
export const MAX_RECORD_SIZE_BYTES = 1024 * 1024;

export const SAVE_AS_UTF8 =
  "Save it as 'CSV UTF-8 (Comma delimited)' (Excel) or export it as UTF-8 CSV, then upload it again.";

export function notCsvBinary(): AppError {
  return new AppError('NOT_CSV', 'The file contains binary data, not CSV text. Upload a .csv file.');
}

/** 1-based line, within `bytes`, of the first sequence that does not decode. */
export function lineOfInvalidBytes(bytes: Uint8Array, encoding: CsvEncoding): number {
  // A lenient decode marks bad bytes with U+FFFD, which locates them.
  const lenient = new TextDecoder(encoding).decode(bytes);
  const bad = lenient.indexOf('\uFFFD');
  return countLineBreaks(bad === -1 ? lenient : lenient.slice(0, bad)) + 1;
}

export function invalidEncodingError(encoding: CsvEncoding, line: number): AppError {
  const where = ` (line ${line})`;
  const what =
    encoding === 'utf-8'
      ? `The file is not valid UTF-8${where}; it is probably in a legacy encoding such as Windows-1252 or Latin-1.`
      : `The file is not valid ${encoding.toUpperCase()}${where}.`;
  return new AppError('UNSUPPORTED_ENCODING', `${what} ${SAVE_AS_UTF8}`, { encoding, line });
}

function countLineBreaks(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

export function unclosedQuoteError(line: number): AppError {
  return new AppError(
    'NOT_CSV',
    `The file is not valid CSV: a quote opened on line ${line} or later is never closed. Check the quotes from line ${line} on.`,
    { line, csv_error: 'CSV_QUOTE_NOT_CLOSED' },
  );
}

export function recordTooLongError(line: number): AppError {
  return new AppError(
    'RECORD_TOO_LARGE',
    `The row starting on line ${line} is longer than ${MAX_RECORD_SIZE_BYTES / 1024 / 1024} MiB (${MAX_RECORD_SIZE_BYTES.toLocaleString('en-US')} characters), ` +
      'the most one row may hold: a cell that huge, or a quote opened there and never closed. Shorten or remove that row.',
    { line, limit_chars: MAX_RECORD_SIZE_BYTES, csv_error: 'CSV_MAX_RECORD_SIZE' },
  );
}

export function tooManyRowsError(maxRows: number): AppError {
  return new AppError(
    'TOO_MANY_ROWS',
    `The file has more than ${maxRows.toLocaleString('en-US')} data rows, the most one upload accepts. Split it into smaller files.`,
    { limit: maxRows },
  );
}
