import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { createCsvScanner } from './csv-scanner';

/** The scanner's records for `text` fed in pieces of `step` characters, or the code it fails with. */
function scan(text: string, step: number, delimiter = ','): string[][] | string {
  const scanner = createCsvScanner({ delimiter, cells: true });
  const records: string[][] = [];
  try {
    for (let i = 0; i < text.length; i += step) records.push(...scanner.push(text.slice(i, i + step)));
    records.push(...scanner.end());
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return records;
}

/**
 * csv-parse, configured for the dialect the scanner documents, as the oracle: same records, or
 * both refuse (csv-parse names an unclosed quote CSV_QUOTE_NOT_CLOSED; the scanner, NOT_CSV).
 */
function oracle(text: string, delimiter = ','): string[][] | string {
  try {
    const records = parse(text, {
      delimiter,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    }) as string[][];
    return records.filter((r) => r.some((cell) => cell.trim() !== ''));
  } catch {
    return 'NOT_CSV';
  }
}

describe('createCsvScanner', () => {
  it('reads quoted cells with delimiters, doubled quotes and line breaks', () => {
    expect(scan('a,"b, c","say ""hi""\nthere"\r\nd,e,f', 3)).toEqual([
      ['a', 'b, c', 'say "hi"\nthere'],
      ['d', 'e', 'f'],
    ]);
  });

  it('keeps quotes that do not open or close a field as text, as spreadsheets write them', () => {
    expect(scan('5" screen,x\n"a"b,"c" \n', 4)).toEqual([
      ['5" screen', 'x'],
      ['"a"b', '"c" '],
    ]);
  });

  it('skips blank lines and all-blank records, keeps ragged rows', () => {
    expect(scan('a;b\r\n\r\n;;\n  ; \u00a0\nc\r1;2;3', 2, ';')).toEqual([['a', 'b'], ['c'], ['1', '2', '3']]);
  });

  it('counts records without keeping cells', () => {
    const scanner = createCsvScanner({ delimiter: ',', cells: false });
    expect(scanner.push('h\n1\n"2\n2"\n\n')).toEqual([]);
    scanner.end();
    expect(scanner.records).toBe(3);
    expect(scanner.line).toBe(6);
  });

  it('reads what csv-parse reads, whatever the shape and the chunking', () => {
    const unit = fc.constantFrom(
      'a',
      'b c',
      ' ',
      ',',
      ';',
      '"',
      '""',
      '\n',
      '\r\n',
      '\r',
      'x"y',
      '\u00a0',
      'é',
    );
    fc.assert(
      fc.property(
        fc.string({ unit, maxLength: 80 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(',', ';'),
        (text, step, delimiter) => {
          expect(scan(text, step, delimiter)).toEqual(oracle(text, delimiter));
        },
      ),
      { numRuns: 3_000 },
    );
  });
});
