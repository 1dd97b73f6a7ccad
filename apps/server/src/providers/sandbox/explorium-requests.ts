/**
 * What the Explorium emulator accepts in a request body, checked the way Explorium's FastAPI
 * service does: pydantic's messages and error types, answered 422 as `{ detail: [...] }`
 * (docs/providers/explorium-api.md).
 */

/** Explorium takes at most 50 items per match call and per bulk-enrich call. */
const MAX_BATCH_SIZE = 50;
const MATCH_ITEM_FIELDS = ['name', 'domain', 'url', 'linkedin_url'] as const;

export type ValidationIssue = { loc: (string | number)[]; msg: string; type: string };

export type MatchItem = Partial<Record<(typeof MATCH_ITEM_FIELDS)[number], string | null>>;

export class ValidationError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super('request validation failed');
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkObject(
  body: unknown,
  allowed: readonly string[],
  required: readonly string[],
): Record<string, unknown> {
  if (!isPlainObject(body)) {
    throw new ValidationError([
      {
        loc: ['body'],
        msg: 'Input should be a valid dictionary or object to extract fields from',
        type: 'model_attributes_type',
      },
    ]);
  }
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key))
      issues.push({ loc: ['body', key], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' });
  }
  for (const key of required) {
    if (!Object.hasOwn(body, key))
      issues.push({ loc: ['body', key], msg: 'Field required', type: 'missing' });
  }
  if (
    Object.hasOwn(body, 'request_context') &&
    body.request_context !== null &&
    !isPlainObject(body.request_context)
  ) {
    issues.push({
      loc: ['body', 'request_context'],
      msg: 'Input should be a valid dictionary',
      type: 'dict_type',
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return body;
}

function checkList(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new ValidationError([
      { loc: ['body', field], msg: 'Input should be a valid list', type: 'list_type' },
    ]);
  }
  if (value.length === 0) {
    throw new ValidationError([
      {
        loc: ['body', field],
        msg: 'List should have at least 1 item after validation, not 0',
        type: 'too_short',
      },
    ]);
  }
  if (value.length > MAX_BATCH_SIZE) {
    throw new ValidationError([
      {
        loc: ['body', field],
        msg: `List should have at most ${MAX_BATCH_SIZE} items after validation, not ${value.length}`,
        type: 'too_long',
      },
    ]);
  }
  return value;
}

function checkString(value: unknown, loc: (string | number)[]): string {
  if (typeof value !== 'string')
    throw new ValidationError([{ loc, msg: 'Input should be a valid string', type: 'string_type' }]);
  return value;
}

export function validateMatch(body: unknown): MatchItem[] {
  const object = checkObject(body, ['request_context', 'businesses_to_match'], ['businesses_to_match']);
  const list = checkList(object.businesses_to_match, 'businesses_to_match');
  const issues: ValidationIssue[] = [];
  const items = list.map((entry, index): MatchItem => {
    if (!isPlainObject(entry)) {
      issues.push({
        loc: ['body', 'businesses_to_match', index],
        msg: 'Input should be a valid dictionary',
        type: 'dict_type',
      });
      return {};
    }
    const item: MatchItem = {};
    for (const field of MATCH_ITEM_FIELDS) {
      const value = entry[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string') {
        issues.push({
          loc: ['body', 'businesses_to_match', index, field],
          msg: 'Input should be a valid string',
          type: 'string_type',
        });
        continue;
      }
      item[field] = value;
    }
    return item;
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return items;
}

export function validateBulkEnrich(body: unknown): string[] {
  const object = checkObject(body, ['request_context', 'business_ids'], ['business_ids']);
  const list = checkList(object.business_ids, 'business_ids');
  return list.map((id, index) => checkString(id, ['body', 'business_ids', index]));
}

export function validateEnrich(body: unknown): string {
  const object = checkObject(body, ['request_context', 'business_id'], ['business_id']);
  return checkString(object.business_id, ['body', 'business_id']);
}

/** Items a call carries, for a limit counted in records: a body that is not a valid call counts 1. */
export function itemsIn(body: unknown): number {
  if (!isPlainObject(body)) return 1;
  const list = body.businesses_to_match ?? body.business_ids;
  return Array.isArray(list) ? Math.max(1, Math.min(list.length, MAX_BATCH_SIZE)) : 1;
}
