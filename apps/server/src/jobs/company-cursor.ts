import type { CompanySortKey } from '@gtm-enrich/contracts';
import { isRowCursor } from '../db/cursor';
import { isSortValue } from './jobs.repository';

/** A sorted companies-page cursor: the sort it was made for, the last row's sort value and row number. */
export type CompanySortCursor = { s: string; v: string | null; r: number };

/**
 * The cursors a companies page in `sort` accepts: the plain row number in file order (what older
 * clients hold), else one made for this very sort, whose value the column can be compared with.
 */
export function companyCursorFor(
  sort: string,
  key: CompanySortKey,
): (v: unknown) => v is number | CompanySortCursor {
  return (v: unknown): v is number | CompanySortCursor => {
    if (sort === 'row_number') return isRowCursor(v);
    if (typeof v !== 'object' || v === null) return false;
    const c = v as Partial<CompanySortCursor>;
    return c.s === sort && isRowCursor(c.r) && isSortValue(key, c.v);
  };
}
