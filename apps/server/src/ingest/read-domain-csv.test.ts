import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError, type AppErrorCode } from '../errors';
import {
  type CsvRow,
  type DomainCsv,
  MAX_RECORD_SIZE_BYTES,
  openDomainCsv,
  sniffDelimiter,
} from './read-domain-csv';

const MAX_ROWS = 1_000_000;
const encoder = new TextEncoder();

async function* chunked(bytes: Uint8Array, chunkSizeBytes = 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunkSizeBytes) {
    yield bytes.subarray(offset, offset + chunkSizeBytes);
  }
}

const utf8 = (text: string, chunkSizeBytes?: number) => chunked(encoder.encode(text), chunkSizeBytes);

function utf16(text: string, endian: 'le' | 'be', withBom = true): Uint8Array {
  const bytes = Buffer.from(`${withBom ? '\ufeff' : ''}${text}`, 'utf16le');
  return endian === 'be' ? bytes.swap16() : bytes;
}

async function readAll(csv: DomainCsv): Promise<CsvRow[]> {
  const rows: CsvRow[] = [];
  for await (const row of csv.rows) rows.push(row);
  return rows;
}

async function open(
  text: string,
  opts: { domainColumn?: string; maxRows?: number; headerRow?: number; deferDomainColumn?: boolean } = {},
) {
  const csv = await openDomainCsv(utf8(text), { maxRows: MAX_ROWS, ...opts });
  return { csv, rows: await readAll(csv) };
}

/** The AppError `action` fails with; fails the test if it succeeds or throws anything else. */
async function appErrorOf(action: () => Promise<unknown>): Promise<AppError> {
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  return caught as AppError;
}

async function expectAppError(action: () => Promise<unknown>, code: AppErrorCode): Promise<AppError> {
  const err = await appErrorOf(action);
  expect(err.code).toBe(code);
  return err;
}

/** A source that builds its bytes only when pulled, recording how far it was read and whether it was released. */
function lazySource(rowCount: number, header = 'domain,name\n') {
  const state = { bytesPulled: 0, released: false };
  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      const first = encoder.encode(header);
      state.bytesPulled += first.length;
      yield first;
      for (let start = 0; start < rowCount; start += 50) {
        let text = '';
        for (let i = start; i < Math.min(start + 50, rowCount); i++)
          text += `company-${i}.com,Company ${i}\n`;
        const chunk = encoder.encode(text);
        state.bytesPulled += chunk.length;
        yield chunk;
      }
    } finally {
      state.released = true;
    }
  }
  return { state, source: generate() };
}

/** Deterministic pseudo-random bytes, so a failure can be reproduced. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

describe('openDomainCsv: encodings', () => {
  it('reads plain UTF-8', async () => {
    const { csv, rows } = await open('domain,name\nmünchen.de,Stadt München\n');
    expect(csv.encoding).toBe('utf-8');
    expect(rows).toEqual([{ rowNumber: 1, value: 'münchen.de', record: ['münchen.de', 'Stadt München'] }]);
  });

  it('strips a UTF-8 byte order mark so the first header cell matches', async () => {
    const { csv, rows } = await open('\ufeffdomain,name\nstripe.com,Stripe\n');
    expect(csv.header).toEqual(['domain', 'name']);
    expect(csv.domainColumnIndex).toBe(0);
    expect(rows.map((r) => r.value)).toEqual(['stripe.com']);
  });

  it('keeps multi-byte characters split across chunks intact', async () => {
    const csv = await openDomainCsv(utf8('domain\nmünchen.de\nпример.рф\n', 1), { maxRows: MAX_ROWS });
    expect((await readAll(csv)).map((r) => r.value)).toEqual(['münchen.de', 'пример.рф']);
  });

  it.each(['le', 'be'] as const)('decodes UTF-16%s with a byte order mark', async (endian) => {
    const bytes = utf16('name\tdomain\r\nZürich AG\tzürich.ch\r\nStripe\tstripe.com\r\n', endian);
    const csv = await openDomainCsv(chunked(bytes, 3), { maxRows: MAX_ROWS });
    expect(csv.encoding).toBe(`utf-16${endian}`);
    expect(csv.delimiter).toBe('\t');
    expect(csv.header).toEqual(['name', 'domain']);
    expect((await readAll(csv)).map((r) => r.value)).toEqual(['zürich.ch', 'stripe.com']);
  });

  it('decodes mostly-ASCII UTF-16LE that has no byte order mark', async () => {
    const csv = await openDomainCsv(chunked(utf16('domain\nstripe.com\n', 'le', false)), {
      maxRows: MAX_ROWS,
    });
    expect(csv.encoding).toBe('utf-16le');
    expect((await readAll(csv)).map((r) => r.value)).toEqual(['stripe.com']);
  });

  it('rejects Latin-1 / Windows-1252 bytes with advice to save as UTF-8', async () => {
    const latin1 = Buffer.from('domain,name\nstripe.com,Caf\u00e9 Stripe\n', 'latin1');
    const err = await expectAppError(
      () => openDomainCsv(chunked(latin1), { maxRows: MAX_ROWS }),
      'UNSUPPORTED_ENCODING',
    );
    expect(err.message).toMatch(/not valid UTF-8 \(line 2\).*UTF-8/);
  });

  it('rejects invalid UTF-8 found after the sniffed head while iterating, naming the line', async () => {
    const valid = `domain\n${'a.com\n'.repeat(20_000)}`;
    const bytes = Buffer.concat([Buffer.from(valid), Buffer.from('caf\u00e9.com\n', 'latin1')]);
    const csv = await openDomainCsv(chunked(bytes), { maxRows: MAX_ROWS });
    const err = await expectAppError(() => readAll(csv), 'UNSUPPORTED_ENCODING');
    expect(err.details).toMatchObject({ line: 20_002 });
  });

  it('rejects UTF-32', async () => {
    const bytes = new Uint8Array([0xff, 0xfe, 0, 0, 0x64, 0, 0, 0]);
    await expectAppError(() => openDomainCsv(chunked(bytes), { maxRows: MAX_ROWS }), 'UNSUPPORTED_ENCODING');
  });
});

describe('openDomainCsv: delimiters', () => {
  it.each([',', ';', '\t', '|'])('detects %j, respecting quoted delimiters', async (delimiter) => {
    const other = delimiter === ',' ? ';' : ',';
    const text = [
      ['name', 'domain', 'notes'],
      ['"Acme, Inc; Ltd|x"', 'acme.com', `a${other}b`],
      ['Stripe', 'stripe.com', `"quoted ${delimiter} inside"`],
    ]
      .map((cells) => cells.join(delimiter))
      .join('\n');
    const { csv, rows } = await open(text);
    expect(csv.delimiter).toBe(delimiter);
    expect(rows.map((r) => r.record)).toEqual([
      ['Acme, Inc; Ltd|x', 'acme.com', `a${other}b`],
      ['Stripe', 'stripe.com', `quoted ${delimiter} inside`],
    ]);
  });

  it('prefers the Excel semicolon when values contain unquoted commas', async () => {
    const { csv, rows } = await open('name;domain\nAcme, Inc;acme.com\nBeta, LLC;beta.io\n');
    expect(csv.delimiter).toBe(';');
    expect(rows.map((r) => r.value)).toEqual(['acme.com', 'beta.io']);
  });

  it('defaults to a comma for a single-column file', async () => {
    const { csv, rows } = await open('Domain\nstripe.com\n"a, b"\n');
    expect(csv.delimiter).toBe(',');
    expect(rows.map((r) => r.value)).toEqual(['stripe.com', 'a, b']);
  });

  it('ignores delimiters inside a quoted header cell', () => {
    expect(sniffDelimiter('"a,b,c";domain\n"x,y";z.com\n', true)).toBe(';');
  });
});

describe('openDomainCsv: records', () => {
  it('keeps newlines and quotes inside quoted fields', async () => {
    const { rows } = await open('domain,notes\nstripe.com,"line 1\nline 2 ""quoted"""\nacme.com,x\n');
    expect(rows).toEqual([
      { rowNumber: 1, value: 'stripe.com', record: ['stripe.com', 'line 1\nline 2 "quoted"'] },
      { rowNumber: 2, value: 'acme.com', record: ['acme.com', 'x'] },
    ]);
  });

  it.each([
    ['CRLF', '\r\n'],
    ['CR', '\r'],
    ['LF', '\n'],
  ])('reads %s line endings', async (_name, eol) => {
    const { rows } = await open(['domain,name', 'stripe.com,Stripe', 'acme.com,Acme', ''].join(eol));
    expect(rows.map((r) => r.record)).toEqual([
      ['stripe.com', 'Stripe'],
      ['acme.com', 'Acme'],
    ]);
  });

  it('reads files that mix line endings without merging rows', async () => {
    const { rows } = await open('domain,name\r\na.com,A\nb.com,B\r\nc.com,C\rd.com,"D\r\nLtd"\n');
    expect(rows.map((r) => r.record)).toEqual([
      ['a.com', 'A'],
      ['b.com', 'B'],
      ['c.com', 'C'],
      ['d.com', 'D\r\nLtd'],
    ]);
  });

  it('keeps rows shorter or longer than the header', async () => {
    const { rows } = await open('name,domain\nAcme\nBeta,beta.io,extra,more\n');
    expect(rows).toEqual([
      { rowNumber: 1, value: '', record: ['Acme'] },
      { rowNumber: 2, value: 'beta.io', record: ['Beta', 'beta.io', 'extra', 'more'] },
    ]);
  });

  it('skips blank and all-blank lines without counting them, but keeps rows whose domain is blank', async () => {
    const { rows } = await open(
      '\n\nname,domain\n\nAcme,acme.com\n\n,\n  ;  \n ,  \nNo Domain,\nBeta,beta.io\n\n',
    );
    expect(rows.map((r) => [r.rowNumber, r.value, r.record])).toEqual([
      [1, 'acme.com', ['Acme', 'acme.com']],
      [2, '', ['  ;  ']],
      [3, '', ['No Domain', '']],
      [4, 'beta.io', ['Beta', 'beta.io']],
    ]);
  });

  it('keeps stray quotes inside an unquoted field as text', async () => {
    const { rows } = await open('name,domain\nAcme "Best" Inc,acme.com\n');
    expect(rows[0]?.record).toEqual(['Acme "Best" Inc', 'acme.com']);
  });

  it('rejects an unclosed quote as NOT_CSV with the line it starts after', async () => {
    const err = await expectAppError(
      () => open('domain,name\na.com,A\nb.com,"B\nc.com,C\nd.com,D\n'),
      'NOT_CSV',
    );
    expect(err.message).toContain('line 3');
    expect(err.details).toMatchObject({ line: 3 });
  });

  it('stops at an unclosed quote early in a large file instead of buffering the rest', async () => {
    const text = `domain,name\na.com,"A\n${'b.com,B\n'.repeat(200_000)}`;
    const err = await expectAppError(() => open(text), 'RECORD_TOO_LARGE');
    expect(err.message).toMatch(/line 2 is longer than 1 MiB/);
  });

  it('refuses an unquoted cell over the record limit, naming its line, before building it', async () => {
    const text = `domain,name
a.com,A
b.com,${'x'.repeat(MAX_RECORD_SIZE_BYTES + 1)}
c.com,C
`;
    const err = await expectAppError(() => open(text), 'RECORD_TOO_LARGE');
    expect(err.details).toMatchObject({ line: 3 });
    const first = await expectAppError(
      () =>
        open(`${'d'.repeat(3 * MAX_RECORD_SIZE_BYTES)}
a.com
`),
      'RECORD_TOO_LARGE',
    );
    expect(first.details).toMatchObject({ line: 1 });
  });
});

describe('openDomainCsv: domain column', () => {
  it.each([
    ['Domain', 'Domain'],
    [' DOMAIN ', ' DOMAIN '],
    ['Website', 'Website'],
    ['URL', 'URL'],
    ['Company_Domain', 'Company_Domain'],
    ['company-domain', 'company-domain'],
    ['Company Website', 'Company Website'],
    ['Domain Name', 'Domain Name'],
    ['Web Site', 'Web Site'],
    ['Homepage', 'Homepage'],
    ['Company URL', 'Company URL'],
    ['Email', 'Email'],
    ['E-mail', 'E-mail'],
    ['Email Address', 'Email Address'],
    ['Work Email', 'Work Email'],
  ])('finds %j', async (name, expected) => {
    const { csv, rows } = await open(`Company Name,${name}\nStripe,stripe.com\n`);
    expect(csv.domainColumn).toBe(expected);
    expect(csv.domainColumnIndex).toBe(1);
    expect(rows[0]?.value).toBe('stripe.com');
  });

  it.each([
    ['email,website,domain', 'domain'],
    ['email,website', 'website'],
    ['url,company domain', 'company domain'],
    ['work email,homepage', 'homepage'],
    ['domain,domain', 'domain'],
  ])('prefers the better alias in %j', async (header, expected) => {
    const { csv } = await open(`${header}\na,b,c\n`);
    expect(csv.domainColumn).toBe(expected);
    expect(csv.domainColumnIndex).toBe(header.split(',').indexOf(expected));
  });

  it('takes the column named by domainColumn, case-insensitively', async () => {
    const { csv, rows } = await open('domain,Work Email\nold.com,bob@stripe.com\n', {
      domainColumn: 'WORK EMAIL',
    });
    expect(csv.domainColumnIndex).toBe(1);
    expect(csv.domainColumn).toBe('Work Email');
    expect(rows[0]?.value).toBe('bob@stripe.com');
  });

  it('matches domainColumn with the same separator folding as the aliases', async () => {
    const { csv } = await open('name,Work Email\na,b\n', { domainColumn: 'work_email' });
    expect(csv.domainColumnIndex).toBe(1);
  });

  it('treats a blank domainColumn as not given', async () => {
    const { csv } = await open('name,website\na,b\n', { domainColumn: '  ' });
    expect(csv.domainColumn).toBe('website');
  });

  it('fails when domainColumn is not in the header, listing the columns', async () => {
    const err = await expectAppError(
      () => open('name,domain\na,b\n', { domainColumn: 'site' }),
      'NO_DOMAIN_COLUMN',
    );
    expect(err.message).toContain("'site'");
    expect(err.message).toContain('Columns found: name, domain.');
    expect(err.details).toEqual({ columns_found: ['name', 'domain'], domain_column: 'site' });
  });

  it('fails without a domain column, listing the columns found', async () => {
    const err = await expectAppError(() => open('name,company\nStripe,Stripe Inc\n'), 'NO_DOMAIN_COLUMN');
    expect(err.message).toBe(
      "No domain column found. Columns found: name, company. Add a column named 'domain' or choose one with domain_column (and header_row if the header is not the first line).",
    );
    expect(err.details).toEqual({ columns_found: ['name', 'company'] });
  });

  it('shortens a long column list in the message but not in the details', async () => {
    const names = Array.from({ length: 25 }, (_, i) => `col${i}`);
    const err = await expectAppError(
      () => open(`${names.join(',')}\n${names.join(',')}\n`),
      'NO_DOMAIN_COLUMN',
    );
    expect(err.message).toContain('col19 and 5 more.');
    expect(err.details).toEqual({ columns_found: names });
  });

  it('says when the file seems to have no header row', async () => {
    const err = await expectAppError(() => open('stripe.com\nacme.com\n'), 'NO_DOMAIN_COLUMN');
    expect(err.message).toContain("The first row looks like data ('stripe.com')");
  });
});

describe('openDomainCsv: empty and non-CSV input', () => {
  it.each([
    ['no bytes', ''],
    ['only blank lines', '\n\r\n   \n\t\n'],
    ['only a byte order mark', '\ufeff'],
  ])('rejects %s as EMPTY_FILE', async (_name, text) => {
    const err = await expectAppError(() => open(text), 'EMPTY_FILE');
    expect(err.message).toBe('The file is empty.');
  });

  it('rejects a source that yields no chunks at all', async () => {
    await expectAppError(
      () => openDomainCsv(chunked(new Uint8Array(0)), { maxRows: MAX_ROWS }),
      'EMPTY_FILE',
    );
  });

  it.each(['domain,name\n', 'domain,name', 'domain,name\n\n,\n  \n'])(
    'rejects a header without data rows (%j) as EMPTY_FILE',
    async (text) => {
      const err = await expectAppError(() => open(text), 'EMPTY_FILE');
      expect(err.message).toContain('no data rows');
    },
  );

  it.each([
    ['an xlsx workbook (zip)', [0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00], /Excel workbook/],
    ['a legacy xls workbook', [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0x00], /Excel \(\.xls\)/],
    ['a PDF', [...encoder.encode('%PDF-1.7\n%\u00e2\u00e3')], /PDF/],
    ['a PNG', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00], /PNG/],
    ['a JPEG', [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], /JPEG/],
    ['a gzip file', [0x1f, 0x8b, 0x08, 0x00], /gzip/],
  ])('rejects %s as NOT_CSV, saying what it looks like', async (_name, magic, expected) => {
    const bytes = new Uint8Array([...magic, ...pseudoRandomBytes(4096, 7)]);
    const err = await expectAppError(() => openDomainCsv(chunked(bytes), { maxRows: MAX_ROWS }), 'NOT_CSV');
    expect(err.message).toMatch(expected);
  });

  it.each([1, 2, 3])('rejects random bytes (seed %i) as NOT_CSV', async (seed) => {
    const bytes = pseudoRandomBytes(8192, seed);
    const err = await expectAppError(() => openDomainCsv(chunked(bytes), { maxRows: MAX_ROWS }), 'NOT_CSV');
    expect(err.message).toContain('binary');
  });

  it('rejects text with NUL bytes as NOT_CSV', async () => {
    await expectAppError(() => open('domain\nstripe.com\0\0\0\nx\0y\n'), 'NOT_CSV');
  });
});

describe('openDomainCsv: limits and streaming', () => {
  it('accepts exactly maxRows data rows', async () => {
    const { rows } = await open('domain\na.com\n\nb.com\nc.com\n\n', { maxRows: 3 });
    expect(rows).toHaveLength(3);
  });

  it('fails with TOO_MANY_ROWS as soon as the limit is passed, after yielding the rows within it', async () => {
    const { state, source } = lazySource(10_000_000);
    const csv = await openDomainCsv(source, { maxRows: 1000 });
    const seen: number[] = [];
    const err = await expectAppError(async () => {
      for await (const row of csv.rows) seen.push(row.rowNumber);
    }, 'TOO_MANY_ROWS');
    expect(err.details).toEqual({ limit: 1000 });
    expect(err.message).toContain('1,000');
    expect(seen).toHaveLength(1000);
    expect(state.released).toBe(true);
    expect(state.bytesPulled).toBeLessThan(1024 * 1024);
  });

  it('reads 200k rows fed in 1 KiB chunks', async () => {
    let text = 'name,domain\n';
    for (let i = 0; i < 200_000; i++) text += `"Company ${i}, Inc",company-${i}.com\n`;
    const csv = await openDomainCsv(utf8(text, 1024), { maxRows: MAX_ROWS });
    let count = 0;
    let lastRowNumber = 0;
    for await (const row of csv.rows) {
      count++;
      lastRowNumber = row.rowNumber;
      if (row.rowNumber === 123_457) expect(row.value).toBe('company-123456.com');
    }
    expect(count).toBe(200_000);
    expect(lastRowNumber).toBe(200_000);
  });

  it('pulls the source only as fast as rows are consumed, and releases it on break', async () => {
    const { state, source } = lazySource(10_000_000);
    const csv = await openDomainCsv(source, { maxRows: MAX_ROWS });
    const firstValues: string[] = [];
    for await (const row of csv.rows) {
      firstValues.push(row.value);
      if (firstValues.length === 10) break;
    }
    expect(firstValues[9]).toBe('company-9.com');
    expect(state.bytesPulled).toBeLessThan(1024 * 1024);
    expect(state.released).toBe(true);
  });

  it('releases the source when the rows are abandoned without being read', async () => {
    const { state, source } = lazySource(10_000_000);
    const csv = await openDomainCsv(source, { maxRows: MAX_ROWS });
    await csv.rows[Symbol.asyncIterator]().return?.();
    expect(state.released).toBe(true);
  });

  it('releases the source when opening fails', async () => {
    const { state, source } = lazySource(10_000_000, 'name,company\n');
    await expectAppError(() => openDomainCsv(source, { maxRows: MAX_ROWS }), 'NO_DOMAIN_COLUMN');
    expect(state.released).toBe(true);
    expect(state.bytesPulled).toBeLessThan(1024 * 1024);
  });

  it('passes errors from the source through unchanged', async () => {
    const disconnect = new Error('client disconnected');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield encoder.encode(`domain\n${'a.com\n'.repeat(20_000)}`);
      throw disconnect;
    }
    // Depending on how far the parser has read ahead, opening or iterating meets the failure.
    const openAndRead = async () => readAll(await openDomainCsv(failing(), { maxRows: MAX_ROWS }));
    await expect(openAndRead()).rejects.toBe(disconnect);

    async function* failingAtOnce(): AsyncGenerator<Uint8Array> {
      yield* [];
      throw disconnect;
    }
    await expect(openDomainCsv(failingAtOnce(), { maxRows: MAX_ROWS })).rejects.toBe(disconnect);
  });
});

describe('openDomainCsv: properties', () => {
  /** Opens and drains `bytes`; returns the rows, or the error, which must be an AppError. */
  async function drain(
    bytes: Uint8Array,
    chunkSizeBytes: number,
  ): Promise<{ csv: DomainCsv; rows: CsvRow[] } | null> {
    try {
      const csv = await openDomainCsv(chunked(bytes, chunkSizeBytes), { maxRows: 50 });
      return { csv, rows: await readAll(csv) };
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return null;
    }
  }

  it('answers random bytes with rows or an AppError, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        async (bytes, size) => {
          const result = await drain(bytes, size);
          if (result !== null) expect(result.rows.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers CSV-shaped text with consistent rows or an AppError, nothing else', async () => {
    const unit = fc.constantFrom(
      'domain',
      'website',
      'stripe.com',
      'https://www.münchen.de/',
      'a',
      ' ',
      '"',
      '""',
      ',',
      ';',
      '\t',
      '|',
      '\n',
      '\r\n',
      '\r',
      '\ufeff',
      '\u0000',
      'é',
    );
    const csvText = fc.tuple(
      fc.constantFrom('', 'domain,name\n', 'name;domain\r\n'),
      fc.string({ unit, maxLength: 120 }),
    );
    await fc.assert(
      fc.asyncProperty(csvText, fc.integer({ min: 1, max: 64 }), async ([prefix, body], size) => {
        const result = await drain(encoder.encode(prefix + body), size);
        if (result === null) return;
        const { csv, rows } = result;
        expect(rows.map((r) => r.rowNumber)).toEqual(rows.map((_, i) => i + 1));
        for (const row of rows) expect(row.value).toBe(row.record[csv.domainColumnIndex] ?? '');
      }),
      { numRuns: 500 },
    );
  });
});

describe('openDomainCsv: where the header is', () => {
  it("reads an Excel 'sep=' first line as the delimiter and skips it", async () => {
    const { csv, rows } = await open('sep=;\r\nName;Website\r\nAcme, Inc.;acme.com\r\n');
    expect(csv).toMatchObject({ delimiter: ';', header: ['Name', 'Website'], recordsBeforeHeader: 1 });
    expect(rows.map((r) => [r.rowNumber, r.value])).toEqual([[1, 'acme.com']]);
  });

  it('skips report titles above a header that names a domain column', async () => {
    const text = '"Accounts report"\n"Generated 2026-11-30",,\n\nAccount,Website,Owner\nAcme,acme.com,Dana\n';
    const { csv, rows } = await open(text);
    expect(csv).toMatchObject({
      delimiter: ',',
      header: ['Account', 'Website', 'Owner'],
      recordsBeforeHeader: 2,
    });
    expect(rows.map((r) => [r.rowNumber, r.value])).toEqual([[1, 'acme.com']]);
  });

  it('never takes a data row that mentions a domain column for the header', async () => {
    const { csv, rows } = await open('name,notes\nAcme,see website\nBeta,website\n', {
      deferDomainColumn: true,
    });
    expect(csv).toMatchObject({ header: ['name', 'notes'], domainColumnIndex: -1, recordsBeforeHeader: 0 });
    expect(rows).toHaveLength(2);
  });

  it('starts at header_row, the line a spreadsheet shows the header on', async () => {
    const { csv, rows } = await open('Pipeline\n\nAcct,Web\nAcme,acme.com\n', {
      headerRow: 3,
      domainColumn: 'Web',
    });
    expect(csv).toMatchObject({ header: ['Acct', 'Web'], domainColumnIndex: 1 });
    expect(rows.map((r) => r.value)).toEqual(['acme.com']);
    await expectAppError(() => open('domain\nacme.com\n', { headerRow: 9 }), 'NO_DOMAIN_COLUMN');
  });

  it('lists the other recognized columns, in alias order, as fallbacks', async () => {
    const { csv } = await open('Email,Website URL,Company Domain Name,Notes\na@acme.com,acme.com,,x\n');
    expect(csv.domainColumn).toBe('Company Domain Name');
    expect(csv.fallbackColumnIndexes).toEqual([1, 0]);
  });
});
