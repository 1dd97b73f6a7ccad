/**
 * The one reading of CSV text in the system: the whole-file check of an upload (check-csv.ts)
 * counts its records with it, and the reader of a stored upload (read-domain-csv.ts) takes its
 * records from it, so the two cannot disagree about where a row ends.
 *
 * The dialect is the spreadsheet one, relaxed the way real exports need:
 * - a quote opens a quoted field only as the field's first character; inside, `""` is a quote and
 *   any other `"` closes it; a quoted field followed by anything but a delimiter or a line break
 *   keeps both its quotes as text (`"a"b` reads `"a"b`, `"a""b"c` reads `"a"b"c`), and a quote
 *   later in an unquoted field is text (`5" screen`);
 * - CR, LF and CRLF all end a record, outside quotes; inside, they are text;
 * - records whose cells are all blank (what String.prototype.trim() removes) are not records:
 *   blank lines and `;;;` trailers from Excel;
 * - rows may be longer or shorter than the header; a record over MAX_RECORD_SIZE_BYTES characters,
 *   quoted or not (a quote never closed, or a huge cell), and a quote still open at the end are
 *   errors naming the line where the record starts. The limit is what bounds the memory of every
 *   reader of a file (and of its rows' export), whatever the file's size.
 *
 * Text arrives in chunks of any size; state carries across them. The scanner jumps between the
 * characters that matter with native searches (a regex for quotes and line breaks, indexOf for
 * the closing quote), which makes counting about as fast as decoding.
 */
import { MAX_RECORD_SIZE_BYTES, recordTooLongError, unclosedQuoteError } from './csv-errors';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE_OR_BREAK = /["\n\r]/g;

/** What String.prototype.trim() removes: a record of only these (and delimiters) is blank. */
function isBlankChar(code: number): boolean {
  return (
    code === 0x20 ||
    (code >= 0x09 && code <= 0x0d) ||
    code === 0xa0 ||
    code === 0xfeff ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

export type CsvScanner = {
  /**
   * Scans the next text; returns the records it completed (their cells, when the scanner keeps
   * cells; otherwise none: count them with `records`).
   */
  push(text: string): string[][];
  /** Ends the text: returns the last record, if any. */
  end(): string[][];
  /** Records completed so far. */
  readonly records: number;
  /** The line (1-based) the scanner has reached. */
  readonly line: number;
  /** The line (1-based) each record returned by the last `push` or `end` starts on (cells kept only). */
  readonly startLines: readonly number[];
};

export function createCsvScanner(opts: {
  delimiter: string;
  /** Build each record's cells (the reader); without, only count records (the check). */
  cells: boolean;
  /** Called as each record completes, before the next is scanned (the check's row limit). */
  onRecord?: (records: number) => void;
}): CsvScanner {
  const delimiter = opts.delimiter.charCodeAt(0);
  const keep = opts.cells;
  let line = 1;
  let records = 0;
  let inQuotes = false;
  // A quote ended the last text while in a quoted field: `""` or a closing quote, the next tells.
  let quotePending = false;
  let atFieldStart = true;
  let recordHasContent = false;
  let recordStartLine = 1;
  let recordChars = 0;
  let field = '';
  let cells: string[] = [];
  let out: string[][] = [];
  let outLines: number[] = [];
  let lastLines: number[] = [];

  const endRecord = () => {
    if (recordHasContent) {
      records++;
      if (keep) {
        cells.push(field);
        out.push(cells);
        outLines.push(recordStartLine);
      }
      opts.onRecord?.(records);
    }
    if (keep) {
      cells = [];
      field = '';
    }
    recordHasContent = false;
    atFieldStart = true;
    recordChars = 0;
    recordStartLine = line;
  };

  const closeQuote = (next: number) => {
    inQuotes = false;
    if (next !== delimiter && next !== LF && next !== CR) {
      recordHasContent = true;
      if (keep) field = `"${field}"`;
    }
  };

  const anyContent = (text: string, from: number, to: number, skipDelimiters: boolean): boolean => {
    for (let k = from; k < to; k++) {
      const code = text.charCodeAt(k);
      if (!isBlankChar(code) && !(skipDelimiters && code === delimiter)) return true;
    }
    return false;
  };

  /** An unquoted stretch without quotes or line breaks: cells end at its delimiters. */
  const unquoted = (text: string, from: number, to: number) => {
    if (!recordHasContent && anyContent(text, from, to, true)) recordHasContent = true;
    atFieldStart = text.charCodeAt(to - 1) === delimiter;
    recordChars += to - from;
    // Before the cells are built: a 100 MB unquoted cell must not become a 100 MB string.
    if (recordChars > MAX_RECORD_SIZE_BYTES) throw recordTooLongError(recordStartLine);
    if (!keep) return;
    let start = from;
    for (
      let d = text.indexOf(opts.delimiter, from);
      d !== -1 && d < to;
      d = text.indexOf(opts.delimiter, d + 1)
    ) {
      cells.push(field + text.slice(start, d));
      field = '';
      start = d + 1;
    }
    if (start < to) field += text.slice(start, to);
  };

  const scan = (text: string) => {
    const n = text.length;
    let i = 0;
    if (quotePending) {
      quotePending = false;
      if (text.charCodeAt(0) === QUOTE) {
        recordHasContent = true;
        recordChars++;
        if (keep) field += '"';
        i = 1;
      } else {
        closeQuote(text.charCodeAt(0));
      }
    }
    while (i < n) {
      if (inQuotes) {
        const q = text.indexOf('"', i);
        const end = q === -1 ? n : q;
        if (!recordHasContent && anyContent(text, i, end, false)) recordHasContent = true;
        for (let k = text.indexOf('\n', i); k !== -1 && k < end; k = text.indexOf('\n', k + 1)) line++;
        recordChars += end - i;
        if (recordChars > MAX_RECORD_SIZE_BYTES) throw recordTooLongError(recordStartLine);
        if (keep) field += text.slice(i, end);
        if (q === -1) return;
        if (q + 1 === n) {
          quotePending = true;
          return;
        }
        if (text.charCodeAt(q + 1) === QUOTE) {
          recordHasContent = true;
          recordChars++;
          if (keep) field += '"';
          i = q + 2;
        } else {
          closeQuote(text.charCodeAt(q + 1));
          i = q + 1;
        }
        continue;
      }
      // test(), not exec(): exec makes a match array per quote and line break (180 MB for a
      // 1,000,000-row file); the match is one character, just before lastIndex.
      QUOTE_OR_BREAK.lastIndex = i;
      const found = QUOTE_OR_BREAK.test(text);
      const end = found ? QUOTE_OR_BREAK.lastIndex - 1 : n;
      if (end > i) unquoted(text, i, end);
      if (!found) return;
      const code = text.charCodeAt(end);
      i = end + 1;
      if (code === QUOTE) {
        if (atFieldStart) {
          inQuotes = true;
        } else {
          recordHasContent = true;
          recordChars++;
          if (keep) field += '"';
        }
        atFieldStart = false;
        continue;
      }
      if (code === LF) line++;
      endRecord();
    }
  };

  const take = (): string[][] => {
    const done = out;
    out = [];
    lastLines = outLines;
    outLines = [];
    return done;
  };

  return {
    push(text) {
      if (text !== '') scan(text);
      return take();
    },
    end() {
      // A quote at the very end closes its field.
      if (quotePending) inQuotes = quotePending = false;
      if (inQuotes) throw unclosedQuoteError(recordStartLine);
      endRecord();
      return take();
    },
    get records() {
      return records;
    },
    get line() {
      return line;
    },
    get startLines() {
      return lastLines;
    },
  };
}
