/**
 * Bulk writes with PostgreSQL's COPY FROM STDIN, and the transaction they run in. Domain code
 * never sees `pg`: it gets a `CopyTransaction` (from system.ts) and hands it rows as an
 * AsyncIterable, pulled as PostgreSQL takes them, so a million rows never sit in memory.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { type Database, withPooledTransaction } from './database';
import * as schema from './schema';

/** A value of one column; an array is written as a PostgreSQL `text[]`. */
export type CopyValue = string | number | boolean | null | readonly string[];

/** COPYs `rows` into `table` (columns in this order); resolves with the number of rows written. */
export type CopyRows = (
  table: string,
  columns: readonly string[],
  rows: AsyncIterable<readonly CopyValue[]>,
) => Promise<number>;

/**
 * COPYs rows already encoded in COPY's text format (`CopyLines`) or binary format
 * (`CopyBinaryLines`) into `table`. For a writer that encodes each row as it reads it, so that the
 * row's values do not outlive it.
 */
export type CopyText = (
  table: string,
  columns: readonly string[],
  lines: CopyLines | CopyBinaryLines,
) => Promise<void>;

/** The OID of `text`: the element type a binary `text[]` names. */
const TEXT_OID = 25;
/** Texts up to this long are encoded by `CopyBinaryLines` itself when they are ASCII. */
const SHORT_TEXT_CHARS = 64;
/** Signature, flags (none) and header extension length (none) of a binary COPY. */
const BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);

/**
 * Rows in COPY's binary format, written field by field into a buffer that grows. Nothing is
 * escaped in Node and nothing is parsed in PostgreSQL: for the companies of a 1,000,000-row file
 * PostgreSQL spent 4.5 s of CPU on binary rows against 5.5 s on the same rows as text (a `text[]`
 * as text is parsed element by element too).
 * Each row is `row(fields)` followed by exactly that many field writes, in the table's column order.
 */
export class CopyBinaryLines {
  private buffer: Buffer;
  private length = BINARY_HEADER.length;
  private ended = false;
  rows = 0;

  /** `capacityBytes`: the starting size of the buffer (a chunk like the one before needs no growth). */
  constructor(capacityBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(capacityBytes, 1024));
    BINARY_HEADER.copy(this.buffer, 0);
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }

  /** Writes a big-endian 32-bit integer at `at` (a call of Buffer's own costs more, a row needs a dozen). */
  private int32At(at: number, value: number): void {
    const b = this.buffer;
    b[at] = value >>> 24;
    b[at + 1] = (value >>> 16) & 0xff;
    b[at + 2] = (value >>> 8) & 0xff;
    b[at + 3] = value & 0xff;
  }

  row(fields: number): this {
    this.room(2);
    this.buffer[this.length] = fields >>> 8;
    this.buffer[this.length + 1] = fields & 0xff;
    this.length += 2;
    this.rows++;
    return this;
  }

  null(): this {
    this.room(4);
    this.int32At(this.length, -1);
    this.length += 4;
    return this;
  }

  int4(value: number): this {
    this.room(8);
    this.int32At(this.length, 4);
    this.int32At(this.length + 4, value);
    this.length += 8;
    return this;
  }

  /** A `uuid` from its 16 bytes. */
  uuid(bytes: Uint8Array): this {
    this.room(20);
    this.int32At(this.length, 16);
    this.buffer.set(bytes, this.length + 4);
    this.length += 20;
    return this;
  }

  text(value: string): this {
    const n = value.length;
    // At most 3 bytes per UTF-16 unit.
    this.room(4 + n * 3);
    const start = this.length + 4;
    // Most cells are short and ASCII: copied here a character at a byte, they skip a call into
    // the encoder, which for 1,000,000 rows (some ten million cells) cost more than the copying.
    if (n <= SHORT_TEXT_CHARS) {
      const b = this.buffer;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + i] = c;
      }
      if (i === n) {
        this.int32At(this.length, n);
        this.length = start + n;
        return this;
      }
    }
    const bytes = this.buffer.write(value, start, 'utf8');
    this.int32At(this.length, bytes);
    this.length = start + bytes;
    return this;
  }

  /** A text that may be null. */
  textOrNull(value: string | null): this {
    return value === null ? this.null() : this.text(value);
  }

  /**
   * Starts a one-dimensional `text[]` whose elements are written next, one `text` or `null` each,
   * as they come (nothing held until the array is complete); returns where it starts, for
   * `endTextArray`.
   */
  beginTextArray(): number {
    this.room(24);
    const start = this.length;
    this.length += 24;
    return start;
  }

  /** Ends the `text[]` begun at `start` with `elements` elements written since. */
  endTextArray(start: number, elements: number, nulls: boolean): this {
    // Its length, then dimensions, has-nulls, element type, then the one dimension's size and lower bound.
    this.int32At(start, this.length - start - 4);
    this.int32At(start + 4, 1);
    this.int32At(start + 8, nulls ? 1 : 0);
    this.int32At(start + 12, TEXT_OID);
    this.int32At(start + 16, elements);
    this.int32At(start + 20, 1);
    return this;
  }

  /** The whole COPY payload, trailer included; no row can be added after. */
  bytes(): Buffer {
    if (!this.ended) {
      this.room(2);
      this.buffer[this.length] = 0xff;
      this.buffer[this.length + 1] = 0xff;
      this.length += 2;
      this.ended = true;
    }
    return this.buffer.subarray(0, this.length);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.length;
  }
}

/**
 * Rows in COPY's text format, UTF-8 in a buffer that grows: a chunk of thousands of rows held as
 * one string would be a rope of thousands of pieces, which the garbage collector walks and moves.
 */
export class CopyLines {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private length = 0;
  rows = 0;

  add(row: readonly CopyValue[]): void {
    const line = copyTextLine(row);
    // At most 3 bytes per UTF-16 unit.
    const room = line.length * 3;
    if (this.length + room > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + room));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(line, this.length, 'utf8');
    this.rows++;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/** A column of a binary COPY and the type its values are sent as. */
export type BinaryColumn = { name: string; type: 'uuid' | 'int4' | 'bytea' };
export type BinaryValue = string | number | Uint8Array;

/**
 * COPYs `rows` in PostgreSQL's binary format, for bytes that the text format would double (hex)
 * and PostgreSQL would then decode; resolves with the number of rows written.
 */
export type CopyBinaryRows = (
  table: string,
  columns: readonly BinaryColumn[],
  rows: AsyncIterable<readonly BinaryValue[]>,
) => Promise<number>;

/**
 * Runs `fn` in one transaction on one connection, with `copy` and `copyBinary` writing on that same
 * connection. Anything thrown (by `fn`, by the rows' source, by PostgreSQL) rolls everything back.
 */
export type CopyTransaction = <T>(
  fn: (tx: Database, copy: CopyRows, copyBinary: CopyBinaryRows, copyText: CopyText) => Promise<T>,
) => Promise<T>;

/** Lines are sent to PostgreSQL in chunks of about this size: one write per row would dominate. */
const COPY_CHUNK_CHARS = 64 * 1024;

const TEXT_SPECIAL = /[\\\t\n\r]/;
const TEXT_SPECIAL_ALL = /[\\\t\n\r]/g;
const TEXT_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const ARRAY_SPECIAL = /["\\]/;
const ARRAY_SPECIAL_ALL = /["\\]/g;

/** COPY's text format: backslash, tab, newline and carriage return are escaped. */
function escapeText(value: string): string {
  return TEXT_SPECIAL.test(value) ? value.replace(TEXT_SPECIAL_ALL, (c) => TEXT_ESCAPES[c]!) : value;
}

/** A `text[]` literal with every element quoted, so commas, braces, blanks and `NULL` stay text. */
function arrayLiteral(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i > 0) out += ',';
    out += `"${ARRAY_SPECIAL.test(v) ? v.replace(ARRAY_SPECIAL_ALL, '\\$&') : v}"`;
  }
  return `${out}}`;
}

/** One row in COPY's text format, with its line ending. Exported for tests. */
export function copyTextLine(row: readonly CopyValue[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (i > 0) line += '\t';
    if (v === null || v === undefined) line += '\\N';
    else if (typeof v === 'string') line += escapeText(v);
    else if (typeof v === 'number' || typeof v === 'boolean') line += String(v);
    else line += escapeText(arrayLiteral(v as readonly string[]));
  }
  return `${line}\n`;
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Runs one COPY FROM STDIN on `client`, fed with `chunks`. pipeline destroys the COPY stream when
 * the source fails: it sends CopyFail and waits for PostgreSQL's answer, so the connection is
 * usable for the ROLLBACK that follows.
 */
async function streamCopy(
  client: pg.PoolClient,
  sql: string,
  chunks: AsyncIterable<string | Buffer>,
): Promise<void> {
  await pipeline(Readable.from(chunks, { objectMode: false }), client.query(copyFrom(sql)));
}

async function copyInto(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  rows: AsyncIterable<readonly CopyValue[]>,
): Promise<number> {
  let count = 0;
  async function* chunks(): AsyncGenerator<string> {
    let chunk = '';
    for await (const row of rows) {
      chunk += copyTextLine(row);
      count++;
      if (chunk.length >= COPY_CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk !== '') yield chunk;
  }
  const names = columns.map(quoteIdentifier).join(', ');
  await streamCopy(client, `copy ${quoteIdentifier(table)} (${names}) from stdin`, chunks());
  return count;
}

async function copyTextInto(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  lines: CopyLines | CopyBinaryLines,
): Promise<void> {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield lines.bytes();
  }
  const names = columns.map(quoteIdentifier).join(', ');
  const format = lines instanceof CopyBinaryLines ? ' (format binary)' : '';
  await streamCopy(client, `copy ${quoteIdentifier(table)} (${names}) from stdin${format}`, chunks());
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

/** A field's length and bytes, as parts: the value's bytes are not copied until the chunk is. */
function binaryField(type: BinaryColumn['type'], value: BinaryValue): Buffer[] {
  let data: Uint8Array;
  if (type === 'uuid') data = Buffer.from(String(value).replace(/-/g, ''), 'hex');
  else if (type === 'int4') data = int32(Number(value));
  else data = value as Uint8Array;
  return [int32(data.byteLength), Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

async function copyBinaryInto(
  client: pg.PoolClient,
  table: string,
  columns: readonly BinaryColumn[],
  rows: AsyncIterable<readonly BinaryValue[]>,
): Promise<number> {
  let count = 0;
  const fieldCount = Buffer.alloc(2);
  fieldCount.writeInt16BE(columns.length);
  async function* chunks(): AsyncGenerator<Buffer> {
    yield BINARY_HEADER;
    let parts: Buffer[] = [];
    let size = 0;
    for await (const row of rows) {
      parts.push(fieldCount);
      size += fieldCount.length;
      for (let i = 0; i < columns.length; i++) {
        for (const part of binaryField(columns[i]!.type, row[i]!)) {
          parts.push(part);
          size += part.length;
        }
      }
      count++;
      if (size >= COPY_CHUNK_CHARS) {
        yield Buffer.concat(parts, size);
        parts = [];
        size = 0;
      }
    }
    // The trailer: a field count of -1.
    parts.push(Buffer.from([0xff, 0xff]));
    yield Buffer.concat(parts);
  }
  const names = columns.map((c) => quoteIdentifier(c.name)).join(', ');
  await streamCopy(client, `copy ${quoteIdentifier(table)} (${names}) from stdin (format binary)`, chunks());
  return count;
}

/**
 * The values of a one-column `query`, read with `COPY (query) TO STDOUT (FORMAT binary)`: the
 * bytes of a `bytea` as they are, where a SELECT sends them as hex text (twice the bytes, which pg
 * decodes as a string and then as hex: about a second of the worker's CPU for a 67 MB upload).
 * `query` is SQL text: COPY takes no parameters, so it must hold no user input. Runs on a
 * connection of its own from `db`'s pool (or on `db`'s connection when it has one), released once
 * the values are read or the iteration is left.
 */
export async function* copyOutValues(db: Database, query: string): AsyncGenerator<Uint8Array> {
  const pooled = db.$client;
  const client = 'release' in pooled ? pooled : await pooled.connect();
  const own = client !== pooled;
  const stream = client.query(copyTo(`copy (${query}) to stdout (format binary)`));
  let broken: Error | undefined;
  try {
    // Bytes received and not yet taken; values are yielded as views of the chunks they came in.
    let pending: Buffer = Buffer.alloc(0);
    let headerRead = false;
    let ended = false;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      if (!headerRead) {
        // The signature, flags and header extension, once.
        if (pending.length < BINARY_HEADER.length) continue;
        at = BINARY_HEADER.length + pending.readUInt32BE(BINARY_HEADER.length - 4);
        if (pending.length < at) continue;
        headerRead = true;
      }
      // Each row: its field count (-1 ends the data), then its one field's length and bytes.
      while (!ended && pending.length - at >= 2) {
        const fields = pending.readInt16BE(at);
        if (fields === -1) {
          ended = true;
          break;
        }
        if (fields !== 1) throw new Error(`copyOutValues: a row of ${fields} columns, not 1`);
        if (pending.length - at < 6) break;
        const length = pending.readInt32BE(at + 2);
        if (length < 0) throw new Error('copyOutValues: a null value');
        if (pending.length - at < 6 + length) break;
        yield pending.subarray(at + 6, at + 6 + length);
        at += 6 + length;
      }
      pending = pending.subarray(at);
    }
    if (!ended) throw new Error('copyOutValues: the data ended without its trailer');
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    // A COPY left before its end leaves the connection mid-protocol: it is closed, not reused.
    if (!stream.readableEnded) {
      broken ??= new Error('copy out left before its end');
      stream.destroy();
    }
    if (own) (client as pg.PoolClient).release(broken);
  }
}

export function createCopyTransaction(pool: pg.Pool): CopyTransaction {
  return (fn) =>
    withPooledTransaction(pool, (client) =>
      fn(
        drizzle(client, { schema }),
        (table, columns, rows) => copyInto(client, table, columns, rows),
        (table, columns, rows) => copyBinaryInto(client, table, columns, rows),
        (table, columns, lines) => copyTextInto(client, table, columns, lines),
      ),
    );
}
