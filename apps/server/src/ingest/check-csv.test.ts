import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { createCsvCheck } from './check-csv';
import { type CsvEncoding, MAX_RECORD_SIZE_BYTES, openDomainCsv } from './read-domain-csv';

const encoder = new TextEncoder();

function check(
  bytes: Uint8Array,
  opts: { delimiter?: string; maxRows?: number; encoding?: CsvEncoding; chunkBytes?: number } = {},
) {
  const c = createCsvCheck({
    encoding: opts.encoding ?? 'utf-8',
    delimiter: opts.delimiter ?? ',',
    maxRows: opts.maxRows ?? 1_000_000,
  });
  const step = opts.chunkBytes ?? 7;
  for (let i = 0; i < bytes.length; i += step) c.push(bytes.subarray(i, i + step));
  return c.end();
}

const text = (s: string, opts?: Parameters<typeof check>[1]) => check(encoder.encode(s), opts);

function errorOf(action: () => unknown): AppError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected an AppError');
}

/** What the full reader makes of the same bytes: its row count, or the code it fails with. */
async function readerOutcome(bytes: Uint8Array, delimiter: string): Promise<number | string> {
  try {
    const csv = await openDomainCsv(
      (async function* () {
        yield bytes;
      })(),
      { maxRows: 1_000_000 },
    );
    expect(csv.delimiter).toBe(delimiter);
    let rows = 0;
    for await (const _ of csv.rows) rows++;
    return rows;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

describe('createCsvCheck', () => {
  it('counts data rows, skipping blank lines, all-blank records and the header', () => {
    expect(text('domain,name\r\na.com,A\r\n\r\n , \r\nb.com,B').dataRows).toBe(2);
    expect(text('domain\n"a.com"\n""\n"  "\n').dataRows).toBe(1);
    expect(text('domain;x\r;;;\rc.com;1\r', { delimiter: ';' }).dataRows).toBe(1);
  });

  it('keeps delimiters and line breaks inside quotes, across any chunking', () => {
    const csv = 'domain,note\na.com,"one, two\nthree ""quoted"""\nb.com,"x"\n';
    for (const chunkBytes of [1, 2, 3, 5, 64]) expect(text(csv, { chunkBytes }).dataRows).toBe(2);
  });

  it('treats a quote inside an unquoted field as text', () => {
    expect(text('domain,note\na.com,5" screen\nb.com,x\n').dataRows).toBe(2);
  });

  it('refuses a quote that is never closed, naming the line where its row starts', () => {
    const err = errorOf(() => text('domain,note\na.com,ok\nb.com,"never closed\nc.com,x\n'));
    expect(err.code).toBe('NOT_CSV');
    expect(err.details).toMatchObject({ line: 3 });
  });

  it('refuses a row longer than the record limit, quoted or not', () => {
    const long = `domain,note\na.com,"${'x'.repeat(MAX_RECORD_SIZE_BYTES + 1)}"\n`;
    expect(errorOf(() => text(long, { chunkBytes: 65536 })).code).toBe('RECORD_TOO_LARGE');
    const unquoted = `domain,note\na.com,${'x'.repeat(MAX_RECORD_SIZE_BYTES + 1)}\n`;
    const err = errorOf(() => text(unquoted, { chunkBytes: 65536 }));
    expect(err.code).toBe('RECORD_TOO_LARGE');
    expect(err.details).toMatchObject({ line: 2 });
  });

  it('stops at the first row past maxRows', () => {
    const err = errorOf(() => text('domain\na.com\nb.com\nc.com\n', { maxRows: 2 }));
    expect(err.code).toBe('TOO_MANY_ROWS');
    expect(text('domain\na.com\nb.com\n', { maxRows: 2 }).dataRows).toBe(2);
  });

  it('refuses invalid UTF-8 and NUL anywhere in the file', () => {
    const bad = Buffer.concat([
      encoder.encode('domain\na.com\nb'),
      Buffer.from([0xe9]),
      encoder.encode('.com\n'),
    ]);
    const err = errorOf(() => check(bad));
    expect(err.code).toBe('UNSUPPORTED_ENCODING');
    expect(err.details).toMatchObject({ line: 3 });
    expect(errorOf(() => text('domain\na.com\u0000\n')).code).toBe('NOT_CSV');
  });

  it('reads UTF-16 with its BOM', () => {
    const bytes = Buffer.from('\ufeffdomain\r\na.com\r\nb.com\r\n', 'utf16le');
    expect(check(bytes, { encoding: 'utf-16le', chunkBytes: 3 }).dataRows).toBe(2);
  });

  it('agrees with the full reader on random CSV shapes: same row count, or both refuse', async () => {
    const unit = fc.constantFrom('a.com', 'b', ' ', ',', '"', '""', '\n', '\r\n', '\r', 'x"y', '\u00a0');
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit, maxLength: 60 }),
        fc.integer({ min: 1, max: 9 }),
        async (body, step) => {
          const bytes = encoder.encode(`domain,name\n${body}`);
          const expected = await readerOutcome(bytes, ',');
          let actual: number | string;
          try {
            actual = check(bytes, { chunkBytes: step }).dataRows;
          } catch (err) {
            if (!(err instanceof AppError)) throw err;
            actual = err.code;
          }
          // The reader calls a header without rows EMPTY_FILE; the check counts zero rows.
          expect(actual).toBe(expected === 'EMPTY_FILE' ? 0 : expected);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
