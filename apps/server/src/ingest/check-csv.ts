/**
 * Checks a whole CSV file as it streams past, without parsing it into rows: the encoding is valid
 * throughout, there is no NUL, every quote is closed, no row exceeds MAX_RECORD_SIZE_BYTES, and
 * the data rows are counted (and refused past `maxRows` as soon as they pass it). An upload is
 * stored and answered on the strength of this check, so that reading the file into rows
 * (read-domain-csv.ts, ~30× slower) can happen after the answer without finding the file bad.
 *
 * It follows csv-parse as read-domain-csv.ts configures it: a quote opens a quoted field only as
 * the field's first character; inside one, `""` is a quote and any other `"` closes it (relaxed
 * quotes); CR, LF and CRLF all end a record; records whose cells are all blank are not rows.
 */
import {
  type CsvEncoding,
  invalidEncodingError,
  lineOfInvalidBytes,
  MAX_RECORD_SIZE_BYTES,
  notCsvBinary,
  recordTooLongError,
  tooManyRowsError,
  unclosedQuoteError,
} from './read-domain-csv';

const QUOTE = 0x22;
const QUOTE_OR_BREAK = /["\n\r]/g;
const LF = 0x0a;
const CR = 0x0d;

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
}): CsvCheck {
  const decoder = new TextDecoder(opts.encoding, { fatal: true });
  const delimiter = opts.delimiter.charCodeAt(0);
  let line = 1;
  let records = 0;
  let inQuotes = false;
  // A quote ended the last text while in a quoted field: `""` or a closing quote, the next tells.
  let quotePending = false;
  let atFieldStart = true;
  let recordHasContent = false;
  let recordStartLine = 1;
  let recordChars = 0;

  const endRecord = () => {
    if (recordHasContent) {
      records++;
      // The first record is the header.
      if (records - 1 > opts.maxRows) throw tooManyRowsError(opts.maxRows);
    }
    recordHasContent = false;
    atFieldStart = true;
    recordChars = 0;
    recordStartLine = line;
  };

  // csv-parse keeps a closing quote as text when something other than a delimiter or a line
  // break follows it (`"a"b` is `"ab`), which makes a record of `"" ` not blank.
  const closeQuote = (next: number) => {
    inQuotes = false;
    if (next !== delimiter && next !== LF && next !== CR) recordHasContent = true;
  };

  const anyContent = (text: string, from: number, to: number, skipDelimiters: boolean): boolean => {
    for (let k = from; k < to; k++) {
      const code = text.charCodeAt(k);
      if (!isBlankChar(code) && !(skipDelimiters && code === delimiter)) return true;
    }
    return false;
  };

  // Jumps from one character that matters to the next with native searches: outside quotes only
  // quotes and line breaks do, inside them only quotes (line breaks are counted for messages).
  const scan = (text: string) => {
    if (text === '') return;
    if (text.indexOf('\0') !== -1) throw notCsvBinary();
    const n = text.length;
    let i = 0;
    if (quotePending) {
      quotePending = false;
      if (text.charCodeAt(0) === QUOTE) {
        recordHasContent = true;
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
        if (q === -1) return;
        if (q + 1 === n) {
          quotePending = true;
          return;
        }
        if (text.charCodeAt(q + 1) === QUOTE) {
          recordHasContent = true;
          recordChars++;
          i = q + 2;
        } else {
          closeQuote(text.charCodeAt(q + 1));
          i = q + 1;
        }
        continue;
      }
      QUOTE_OR_BREAK.lastIndex = i;
      const match = QUOTE_OR_BREAK.exec(text);
      const end = match ? match.index : n;
      if (end > i) {
        if (!recordHasContent && anyContent(text, i, end, true)) recordHasContent = true;
        atFieldStart = text.charCodeAt(end - 1) === delimiter;
        recordChars += end - i;
      }
      if (!match) return;
      const code = text.charCodeAt(end);
      i = end + 1;
      if (code === QUOTE) {
        if (atFieldStart) inQuotes = true;
        else recordHasContent = true;
        atFieldStart = false;
        continue;
      }
      if (code === LF) line++;
      endRecord();
    }
  };

  const decode = (bytes: Uint8Array, stream: boolean): string => {
    try {
      return decoder.decode(bytes, { stream });
    } catch {
      throw invalidEncodingError(opts.encoding, line - 1 + lineOfInvalidBytes(bytes, opts.encoding));
    }
  };

  return {
    push(bytes) {
      scan(decode(bytes, true));
    },
    end() {
      scan(decode(new Uint8Array(0), false));
      if (quotePending) inQuotes = false;
      if (inQuotes) throw unclosedQuoteError(recordStartLine);
      endRecord();
      return { dataRows: Math.max(0, records - 1) };
    },
  };
}
