import { AppError } from '../errors';

/** Opaque page cursors: base64url JSON, so clients never build them by hand. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * Decodes a cursor and checks its value with `isValid`, which must accept only what the database
 * can compare against (a cursor is client input: a value PostgreSQL refuses would be a 500).
 */
export function decodeCursor<T>(cursor: string, isValid: (v: unknown) => v is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isValid(value)) return value;
  } catch {
    // fall through to the error below
  }
  throw new AppError('INVALID_CURSOR', 'The cursor is not one this API returned. Start again without it.');
}

/** The largest PostgreSQL `integer`: row numbers are stored as one. */
const MAX_INT4 = 2_147_483_647;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What Date.prototype.toISOString writes for years 0000–9999, the range `timestamptz` and JS share. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A row-number cursor: the last row number of the page before. */
export const isRowCursor = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_INT4;

export type JobCursor = { t: string; id: string };

/** A jobs-page cursor: the last job's creation time (as toISOString writes it) and id. */
export const isJobCursor = (v: unknown): v is JobCursor => {
  if (typeof v !== 'object' || v === null) return false;
  const { t, id } = v as Partial<JobCursor>;
  return (
    typeof t === 'string' &&
    ISO_TIMESTAMP.test(t) &&
    !Number.isNaN(Date.parse(t)) &&
    new Date(t).toISOString() === t &&
    typeof id === 'string' &&
    UUID.test(id)
  );
};
