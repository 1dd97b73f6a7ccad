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

  const scan = (text: string) => {
    if (text === '') return;
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
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === LF) line++;
      if (code === 0) throw notCsvBinary();
      if (inQuotes) {
        if (++recordChars > MAX_RECORD_SIZE_BYTES) throw recordTooLongError(recordStartLine);
        if (code !== QUOTE) {
          if (!recordHasContent && !isBlankChar(code)) recordHasContent = true;
        } else if (i + 1 === text.length) {
          quotePending = true;
        } else if (text.charCodeAt(i + 1) === QUOTE) {
          recordHasContent = true;
          i++;
        } else {
          closeQuote(text.charCodeAt(i + 1));
        }
        continue;
      }
      if (code === LF || code === CR) {
        endRecord();
        continue;
      }
      recordChars++;
      if (code === delimiter) {
        atFieldStart = true;
        continue;
      }
      if (code === QUOTE && atFieldStart) {
        inQuotes = true;
        atFieldStart = false;
        continue;
      }
      atFieldStart = false;
      if (!recordHasContent && !isBlankChar(code)) recordHasContent = true;
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
