/**
 * Streams an uploaded CSV of company domains: sniffs the encoding, the delimiter and the header
 * from the first bytes, then yields one row at a time as the caller pulls, so a 200 MB upload
 * never sits in memory. Every problem with the file as a whole is an AppError with a code the
 * HTTP layer maps to a 4xx; problems with single rows are left to normalizeDomain.
 *
 * Decisions:
 * - Blank lines, and lines whose cells are all blank (`;;;` trailers from Excel), carry no data and
 *   are skipped; `rowNumber` counts the remaining data rows only (1 = first data row), so it is the
 *   row's position among the rows this reader yields, not a physical line number.
 * - A file with a header but no data rows is EMPTY_FILE.
 * - Rows shorter or longer than the header are kept (`value` is '' when the domain cell is missing).
 * - Malformed quoting (an unclosed quote) or a record over MAX_RECORD_SIZE_BYTES is NOT_CSV with a
 *   line number; stray quotes inside a field are kept as text, as spreadsheets write them.
 * - Invalid UTF-8 after the sniffed head still fails the upload (UNSUPPORTED_ENCODING) rather
 *   than replacing bytes: a silently mangled row is worse than a clear "save as UTF-8".
 * - Errors thrown by `source` itself (a client disconnect, an upload size limit) pass through
 *   unchanged so the caller can tell them apart.
 */
import { AppError } from '../errors';
import { createCsvDecoder } from './csv-decoder';
import { type CsvEncoding, notCsvBinary, SAVE_AS_UTF8, tooManyRowsError } from './csv-errors';
import { createCsvScanner } from './csv-scanner';
import { normalizeDomain } from './normalize-domain';

export { type CsvEncoding, MAX_RECORD_SIZE_BYTES } from './csv-errors';

export type CsvRow = {
  /** 1-based position among data rows: header, blank lines and all-blank rows excluded. */
  rowNumber: number;
  /** The raw cell of the domain column, '' when the row is shorter than that. */
  value: string;
  /** Every cell of the row, as parsed, for a later row-level export. */
  record: string[];
};

export type DomainCsv = {
  /** Header cells as they appear in the file. */
  header: string[];
  /** The header cell chosen as the domain column, as it appears in the file ('' when deferred). */
  domainColumn: string;
  /** -1 when none was found and `deferDomainColumn` was asked (see resolveDomainColumn). */
  domainColumnIndex: number;
  /**
   * Other recognized columns (website, url, email…) in the order of DOMAIN_COLUMN_ALIASES: a row
   * whose domain cell is blank takes its domain from the first of these that is not.
   */
  fallbackColumnIndexes: number[];
  /** Records before the header: an Excel `sep=` line, report titles (not data rows). */
  recordsBeforeHeader: number;
  delimiter: string;
  encoding: CsvEncoding;
  /**
   * The data rows, read from `source` as they are pulled. Iterate it once. Breaking out of the
   * loop (or calling `return()` on its iterator) stops reading and releases `source`.
   */
  rows: AsyncIterable<CsvRow>;
  /**
   * The same rows in arrays, as the scanner completes them (a few hundred at a time), for a reader
   * of a whole file. Iterate either this or `rows`, once.
   */
  rowBatches: AsyncIterable<CsvRow[]>;
};

export type OpenDomainCsvOptions = {
  /** Header name of the domain column (case-insensitive); default: detected from DOMAIN_COLUMN_ALIASES. */
  domainColumn?: string | undefined;
  /**
   * The line of the file (1-based, as a spreadsheet numbers its rows) that holds the header; the
   * lines above it are not read as rows. Default: the first line, after an Excel `sep=` line, or
   * the first of the first HEADER_SEARCH_RECORDS records that names a domain column.
   */
  headerRow?: number | undefined;
  /** Leave a domain column not found unresolved (index -1) instead of refusing the file. */
  deferDomainColumn?: boolean;
  /** Most data rows accepted; one more fails the iteration with TOO_MANY_ROWS. */
  maxRows: number;
};

/** Enough for encoding and binary checks and for a few dozen lines to sniff the delimiter from. */
const HEAD_SNIFF_BYTES = 64 * 1024;
const DELIMITER_SNIFF_LINES = 50;
/** Text never has this share of C0 control characters; binary formats and random bytes do. */
const MAX_CONTROL_CHAR_RATIO = 0.05;
/** Share of NUL bytes at odd (or even) offsets above which BOM-less UTF-16 is assumed. */
const UTF16_NUL_PARITY_RATIO = 0.4;
/** Records searched for a header that names a domain column, past report titles. */
const HEADER_SEARCH_RECORDS = 20;
/**
 * Text handed to the scanner at once. Its records are held until they are taken, so a 1 MB chunk
 * of the stored file at once kept some 15,000 records alive long enough to be promoted out of the
 * young generation, and the garbage collector took a quarter of the read.
 */
const SCAN_SLICE_CHARS = 32 * 1024;

/** `text` in slices of SCAN_SLICE_CHARS, never between the two halves of a surrogate pair. */
function* scanSlices(text: string): Generator<string> {
  for (let at = 0; at < text.length; ) {
    let end = Math.min(at + SCAN_SLICE_CHARS, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    yield text.slice(at, end);
    at = end;
  }
}
/** Excel's first line naming the delimiter: `sep=;`. */
const EXCEL_SEP_LINE = /^sep=([^\r\n])[ \t]*(?:\r\n|\n|\r|$)/i;
const MAX_COLUMNS_IN_MESSAGE = 20;
const MAX_COLUMNS_IN_DETAILS = 200;
const MAX_NAME_IN_MESSAGE_CHARS = 80;

export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;
const DELIMITER_INDEX: ReadonlyMap<string, number> = new Map(CSV_DELIMITERS.map((d, i) => [d, i]));

/**
 * Header names taken as the domain column when none is named `domain`, in order of preference
 * (compared after lowercasing and collapsing `_`, `-` and spaces). Names that hold a bare domain
 * come before URL columns, which some scrapers fill with the page a company was found on, and
 * email columns come last since they only name a company when they are work addresses.
 */
export const DOMAIN_COLUMN_ALIASES = [
  'domain',
  'company domain',
  'company domain name',
  'domain name',
  'website',
  'company website',
  'website url',
  'web site',
  'homepage',
  'url',
  'company url',
  'website domain',
  'email domain',
  'email',
  'email address',
  'work email',
  'business email',
  'e mail',
] as const;

type Sniffed = { encoding: CsvEncoding; bomLength: number };

/** Raised around errors that came from `source`, so they are rethrown as they were. */
class SourceError extends Error {
  constructor(readonly original: unknown) {
    super('source failed');
  }
}

// Signatures that are also plausible CSV text (`MZ`, `GIF8`) are matched in full or left to the
// binary check, so a header like `MZ_ID,domain` is never mistaken for a program.
const MAGIC_NUMBERS: ReadonlyArray<{ bytes: readonly number[]; message: string }> = [
  {
    bytes: [0x50, 0x4b, 0x03, 0x04],
    message:
      'The file looks like an Excel workbook or another zip archive, not a CSV: open it and export it as CSV.',
  },
  {
    bytes: [0x50, 0x4b, 0x05, 0x06],
    message: 'The file looks like an empty zip archive, not a CSV.',
  },
  {
    bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
    message: 'The file looks like a legacy Excel (.xls) workbook, not a CSV: open it and export it as CSV.',
  },
  { bytes: [0x25, 0x50, 0x44, 0x46, 0x2d], message: 'The file looks like a PDF document, not a CSV.' },
  { bytes: [0x89, 0x50, 0x4e, 0x47], message: 'The file looks like a PNG image, not a CSV.' },
  { bytes: [0xff, 0xd8, 0xff], message: 'The file looks like a JPEG image, not a CSV.' },
  { bytes: [0x47, 0x49, 0x46, 0x38, 0x39, 0x61], message: 'The file looks like a GIF image, not a CSV.' },
  { bytes: [0x47, 0x49, 0x46, 0x38, 0x37, 0x61], message: 'The file looks like a GIF image, not a CSV.' },
  { bytes: [0x1f, 0x8b], message: 'The file looks like a gzip archive, not a CSV: decompress it first.' },
  { bytes: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], message: 'The file looks like a RAR archive, not a CSV.' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf], message: 'The file looks like a 7-Zip archive, not a CSV.' },
  {
    bytes: [...Buffer.from('SQLite format 3\0', 'latin1')],
    message: 'The file looks like a SQLite database, not a CSV.',
  },
  { bytes: [0x7f, 0x45, 0x4c, 0x46], message: 'The file looks like an executable program, not a CSV.' },
];

function startsWithBytes(head: Uint8Array, bytes: readonly number[]): boolean {
  return head.length >= bytes.length && bytes.every((byte, i) => head[i] === byte);
}

function controlCharRatio(text: string): number {
  if (text.length === 0) return 0;
  let controls = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Tab, LF, VT (FileMaker's in-cell line break), FF and CR occur in real CSV text.
    if ((code < 0x20 && (code < 0x09 || code > 0x0d)) || code === 0x7f) controls++;
  }
  return controls / text.length;
}

export function sniffEncoding(head: Uint8Array): Sniffed {
  for (const magic of MAGIC_NUMBERS) {
    if (startsWithBytes(head, magic.bytes)) throw new AppError('NOT_CSV', magic.message);
  }
  if (startsWithBytes(head, [0xff, 0xfe, 0x00, 0x00]) || startsWithBytes(head, [0x00, 0x00, 0xfe, 0xff])) {
    throw new AppError(
      'UNSUPPORTED_ENCODING',
      `The file is encoded as UTF-32, which is not supported. ${SAVE_AS_UTF8}`,
    );
  }
  if (startsWithBytes(head, [0xef, 0xbb, 0xbf])) return { encoding: 'utf-8', bomLength: 3 };
  if (startsWithBytes(head, [0xff, 0xfe])) return { encoding: 'utf-16le', bomLength: 2 };
  if (startsWithBytes(head, [0xfe, 0xff])) return { encoding: 'utf-16be', bomLength: 2 };
  if (!head.includes(0)) return { encoding: 'utf-8', bomLength: 0 };

  // Mostly-ASCII UTF-16 without a BOM has a NUL in every other byte; binary has NULs anywhere.
  let evenNuls = 0;
  let oddNuls = 0;
  for (let i = 0; i < head.length; i++) {
    if (head[i] === 0) {
      if (i % 2 === 0) evenNuls++;
      else oddNuls++;
    }
  }
  const pairs = Math.floor(head.length / 2);
  if (pairs > 0 && oddNuls / pairs > UTF16_NUL_PARITY_RATIO && evenNuls === 0) {
    return { encoding: 'utf-16le', bomLength: 0 };
  }
  if (pairs > 0 && evenNuls / pairs > UTF16_NUL_PARITY_RATIO && oddNuls === 0) {
    return { encoding: 'utf-16be', bomLength: 0 };
  }
  throw notCsvBinary();
}

/**
 * Picks the delimiter whose count per line (outside quotes) is non-zero in the first line and the
 * same in most of the following lines. A single-column file has none and gets ','.
 */
export function sniffDelimiter(text: string, complete: boolean): string {
  const lines: number[][] = [];
  let counts = CSV_DELIMITERS.map(() => 0);
  let lineLength = 0;
  let inQuotes = false;
  let atFieldStart = true;
  let truncated = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') i++;
        else inQuotes = false;
      }
      lineLength++;
      continue;
    }
    if (ch === '\n' || ch === '\r') {
      if (lineLength > 0) lines.push(counts);
      if (lines.length >= DELIMITER_SNIFF_LINES) {
        truncated = true;
        break;
      }
      counts = CSV_DELIMITERS.map(() => 0);
      lineLength = 0;
      atFieldStart = true;
      continue;
    }
    lineLength++;
    const delimiterIndex = ch === undefined ? undefined : DELIMITER_INDEX.get(ch);
    if (delimiterIndex !== undefined) {
      counts[delimiterIndex] = (counts[delimiterIndex] ?? 0) + 1;
      atFieldStart = true;
    } else if (ch === '"' && atFieldStart) {
      inQuotes = true;
    } else if (ch !== ' ') {
      atFieldStart = false;
    }
  }
  // The last line of an incomplete head may be cut mid-way; it would only add noise.
  if (!truncated && lineLength > 0 && (complete || lines.length === 0)) lines.push(counts);

  // Report titles above the header hold no delimiter; when most of the lines below them agree on
  // one, the header is the first line that has it.
  const titles = lines.findIndex((counts) => counts.some((c) => c > 0));
  if (titles > 0) {
    const rest = lines.slice(titles);
    const agreeing = rest.filter((counts) => counts.join() === rest[0]!.join()).length;
    if (agreeing / rest.length >= 0.8) lines.splice(0, titles);
  }
  const [header, ...data] = lines;
  if (header === undefined) return ',';
  let best = { delimiter: ',', consistency: -1, columns: 0 };
  for (const [index, delimiter] of CSV_DELIMITERS.entries()) {
    const columns = header[index] ?? 0;
    if (columns === 0) continue;
    const consistent = data.filter((line) => line[index] === columns).length;
    const consistency = data.length === 0 ? 1 : consistent / data.length;
    if (consistency > best.consistency || (consistency === best.consistency && columns > best.columns)) {
      best = { delimiter, consistency, columns };
    }
  }
  return best.delimiter;
}

/** Lowercase, trimmed, with runs of `_`, `-` and whitespace collapsed to one space. */
export function normalizeHeaderName(name: string): string {
  return name
    .replace(/[\u200b-\u200d\u2060\ufeff]/g, '')
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
    .trim();
}

/** Keeps user-supplied text quoted in an error message readable when a cell is huge. */
function shorten(text: string): string {
  return text.length > MAX_NAME_IN_MESSAGE_CHARS ? `${text.slice(0, MAX_NAME_IN_MESSAGE_CHARS)}…` : text;
}

function describeColumns(header: readonly string[]): { list: string; columns: string[] } {
  const columns = header.slice(0, MAX_COLUMNS_IN_DETAILS).map((name) => name.trim());
  const shown = columns
    .slice(0, MAX_COLUMNS_IN_MESSAGE)
    .map((name) => (name === '' ? '(blank)' : shorten(name)));
  const more = header.length - shown.length;
  return { list: more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', '), columns };
}

/** The index of the domain column in `header`, or -1: the column named `requested`, else the first alias found. */
function locateDomainColumn(header: readonly string[], requested: string | undefined): number {
  const normalized = header.map(normalizeHeaderName);
  // A form field left blank means "not chosen", not a column named ''.
  if (requested !== undefined && requested.trim() !== '') {
    const exact = header.findIndex((name) => name.trim().toLowerCase() === requested.trim().toLowerCase());
    return exact !== -1 ? exact : normalized.indexOf(normalizeHeaderName(requested));
  }
  for (const alias of DOMAIN_COLUMN_ALIASES) {
    const index = normalized.indexOf(alias);
    if (index !== -1) return index;
  }
  return -1;
}

function noDomainColumnError(header: readonly string[], requested: string | undefined): AppError {
  const { list, columns } = describeColumns(header);
  if (requested !== undefined && requested.trim() !== '') {
    return new AppError(
      'NO_DOMAIN_COLUMN',
      `The column '${shorten(requested)}' given as domain_column was not found. Columns found: ${list}.`,
      { columns_found: columns, domain_column: requested },
    );
  }
  // A file without a header row starts straight with a domain; say so instead of listing it.
  const firstCell = header[0] ?? '';
  const looksLikeData = normalizeDomain(firstCell, { blockedEmailDomains: new Set() }).ok;
  const hint = looksLikeData
    ? ` The first row looks like data ('${shorten(firstCell.trim())}'): add a header row with a column named 'domain'.`
    : " Add a column named 'domain' or choose one with domain_column (and header_row if the header is not the first line).";
  return new AppError('NO_DOMAIN_COLUMN', `No domain column found. Columns found: ${list}.${hint}`, {
    columns_found: columns,
  });
}

/** Other recognized domain columns of `header`, in alias order, without `chosen`. */
function fallbackColumns(header: readonly string[], chosen: number): number[] {
  const normalized = header.map(normalizeHeaderName);
  const out: number[] = [];
  for (const alias of DOMAIN_COLUMN_ALIASES) {
    normalized.forEach((name, i) => {
      if (name === alias && i !== chosen && !out.includes(i)) out.push(i);
    });
  }
  return out;
}

/**
 * The domain column of `header` (`requested`, else detected) and the fallback columns behind it.
 * Throws NO_DOMAIN_COLUMN, naming the columns found.
 */
export function resolveDomainColumn(
  header: readonly string[],
  requested: string | undefined,
): { index: number; fallbacks: number[] } {
  const index = locateDomainColumn(header, requested);
  if (index === -1) throw noDomainColumnError(header, requested);
  return { index, fallbacks: fallbackColumns(header, index) };
}

/**
 * Opens an uploaded CSV: reads just enough of `source` to detect the encoding, delimiter, header
 * and domain column, checks there is at least one data row, and returns the rows as a lazy stream.
 *
 * Throws AppError EMPTY_FILE, NOT_CSV, UNSUPPORTED_ENCODING or NO_DOMAIN_COLUMN; iterating `rows`
 * may throw AppError NOT_CSV, UNSUPPORTED_ENCODING or TOO_MANY_ROWS. Errors raised by `source`
 * are rethrown as they are.
 */
export async function openDomainCsv(
  source: AsyncIterable<Uint8Array>,
  opts: OpenDomainCsvOptions,
): Promise<DomainCsv> {
  const input = source[Symbol.asyncIterator]();
  let inputDone = false;
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    if (!inputDone) await input.return?.();
  };
  const pull = async (): Promise<Uint8Array | null> => {
    let step: IteratorResult<Uint8Array>;
    try {
      step = await input.next();
    } catch (err) {
      inputDone = true;
      throw new SourceError(err);
    }
    if (step.done) {
      inputDone = true;
      return null;
    }
    return step.value;
  };

  let teardown: () => void = () => {};
  try {
    const headChunks: Uint8Array[] = [];
    let headLength = 0;
    while (headLength < HEAD_SNIFF_BYTES) {
      const chunk = await pull();
      if (chunk === null) break;
      headChunks.push(chunk);
      headLength += chunk.byteLength;
    }
    const head = Buffer.concat(headChunks, headLength);
    if (head.length === 0) throw new AppError('EMPTY_FILE', 'The file is empty.');

    const { encoding, bomLength } = sniffEncoding(head);
    // The BOM was sniffed and is skipped by hand; a later U+FEFF is text.
    const decode = createCsvDecoder(encoding, { ignoreBOM: true });
    let headText: string;
    try {
      headText = decode(head.subarray(bomLength), { stream: !inputDone, lineBreaksBefore: 0 });
    } catch (err) {
      if (encoding === 'utf-8' && controlCharRatio(head.toString('latin1')) > MAX_CONTROL_CHAR_RATIO) {
        throw notCsvBinary();
      }
      throw err;
    }
    if (controlCharRatio(headText) > MAX_CONTROL_CHAR_RATIO) throw notCsvBinary();
    if (inputDone && headText.trim() === '') throw new AppError('EMPTY_FILE', 'The file is empty.');

    const sepLine = EXCEL_SEP_LINE.exec(headText);
    const delimiter = sepLine?.[1] ?? sniffDelimiter(headText, inputDone);
    const scanner = createCsvScanner({ delimiter, cells: true });

    const headComplete = inputDone;
    // Pulled only once the scanner has read all the text before: its line places a bad byte.
    async function* decodedText(): AsyncGenerator<string> {
      try {
        if (headText !== '') yield* scanSlices(headText);
        if (headComplete) return;
        for (let chunk = await pull(); chunk !== null; chunk = await pull()) {
          const text = decode(chunk, { stream: true, lineBreaksBefore: scanner.line - 1 });
          yield* scanSlices(text);
        }
        const tail = decode(new Uint8Array(0), { stream: false, lineBreaksBefore: scanner.line - 1 });
        yield* scanSlices(tail);
      } finally {
        await release();
      }
    }

    // Records are taken from the scanner as its text is pulled: one chunk's records at a time.
    const text = decodedText();
    let ready: string[][] = [];
    let next = 0;
    let ended = false;
    teardown = () => {
      void text.return(undefined);
    };

    let readyLines: readonly number[] = [];
    // The line the record last returned by nextRecord starts on.
    let recordLine = 0;
    const nextRecord = async (): Promise<string[] | null> => {
      while (next === ready.length) {
        if (ended) return null;
        let step: IteratorResult<string>;
        try {
          step = await text.next();
        } catch (err) {
          if (err instanceof SourceError) throw err.original;
          throw err;
        }
        next = 0;
        if (step.done) {
          ended = true;
          ready = scanner.end();
        } else {
          ready = scanner.push(step.value);
        }
        readyLines = scanner.startLines;
      }
      recordLine = readyLines[next] ?? 0;
      return ready[next++]!;
    };

    // Records read while looking for the header, given back in order when it is not among them.
    const pending: string[][] = [];
    const takeRecord = async () => pending.shift() ?? (await nextRecord());
    // A record the scanner has ready, without a promise: most rows are (one per row adds up).
    const takeReadyRecord = (): string[] | undefined => {
      if (pending.length > 0) return pending.shift();
      if (next === ready.length) return undefined;
      recordLine = readyLines[next] ?? 0;
      return ready[next++];
    };
    let recordsBeforeHeader = 0;
    if (sepLine) {
      await nextRecord();
      recordsBeforeHeader++;
    }
    let header: string[] | null;
    if (opts.headerRow !== undefined) {
      for (
        header = await nextRecord();
        header !== null && recordLine < opts.headerRow;
        header = await nextRecord()
      ) {
        recordsBeforeHeader++;
      }
    } else {
      // Report titles above the header (Salesforce, HubSpot): the first record that names a domain
      // column is the header when every record above it is a title (one cell, or one filled cell
      // and blanks); else the first record is, so no row of a file is ever taken for a title.
      header = null;
      for (let i = 0; i < HEADER_SEARCH_RECORDS; i++) {
        const record = await nextRecord();
        if (record === null) break;
        if (locateDomainColumn(record, opts.domainColumn) !== -1) {
          header = record;
          recordsBeforeHeader += pending.length;
          pending.length = 0;
          break;
        }
        pending.push(record);
        if (record.filter((cell) => cell.trim() !== '').length > 1) break;
      }
      header ??= pending.shift() ?? null;
    }
    if (header === null && opts.headerRow !== undefined) {
      throw new AppError(
        'NO_DOMAIN_COLUMN',
        `header_row is ${opts.headerRow}, but the file has no row on or after line ${opts.headerRow}.`,
        { header_row: opts.headerRow },
      );
    }
    if (header === null) throw new AppError('EMPTY_FILE', 'The file is empty.');
    const domainColumnIndex = locateDomainColumn(header, opts.domainColumn);
    if (domainColumnIndex === -1 && !opts.deferDomainColumn)
      throw noDomainColumnError(header, opts.domainColumn);
    const firstRow = await takeRecord();
    if (firstRow === null) {
      throw new AppError('EMPTY_FILE', 'The file has a header row but no data rows.', {
        columns_found: describeColumns(header).columns,
      });
    }

    const close = async (): Promise<void> => {
      teardown();
      await release();
    };
    // The rows the scanner completed from one slice of text, in one array: a promise per batch
    // instead of one per row (for 1,000,000 rows the promises of rows taken one at a time through
    // three async generators cost more than scanning them).
    async function* produceBatches(): AsyncGenerator<CsvRow[], void, undefined> {
      try {
        let rowNumber = 0;
        let batch: CsvRow[] = [];
        for (let record: string[] | null = firstRow; record !== null; record = await takeRecord()) {
          for (let r: string[] | undefined = record; r !== undefined; r = takeReadyRecord()) {
            rowNumber++;
            if (rowNumber > opts.maxRows) {
              // The rows within the limit are given first, as when they are taken one at a time.
              if (batch.length > 0) yield batch;
              throw tooManyRowsError(opts.maxRows);
            }
            batch.push({ rowNumber, value: r[domainColumnIndex] ?? '', record: r });
          }
          yield batch;
          batch = [];
        }
      } finally {
        await close();
      }
    }
    const batches = produceBatches();
    async function* produceRows(): AsyncGenerator<CsvRow, void, undefined> {
      for await (const batch of batches) yield* batch;
    }
    const rowsGenerator = produceRows();
    // A generator that was never started skips its `finally`, so release explicitly.
    const iterable = <T>(generator: AsyncGenerator<T, void, undefined>): AsyncIterableIterator<T> => ({
      [Symbol.asyncIterator]() {
        return this;
      },
      next: () => generator.next(),
      return: async () => {
        await close();
        await batches.return(undefined);
        return generator.return(undefined);
      },
    });
    const rows = iterable(rowsGenerator);
    const rowBatches = iterable(batches);

    return {
      header,
      domainColumn: header[domainColumnIndex] ?? '',
      domainColumnIndex,
      fallbackColumnIndexes: domainColumnIndex === -1 ? [] : fallbackColumns(header, domainColumnIndex),
      recordsBeforeHeader,
      delimiter,
      encoding,
      rows,
      rowBatches,
    };
  } catch (err) {
    teardown();
    await release();
    if (err instanceof SourceError) throw err.original;
    throw err;
  }
}
