import { describe, expect, it } from 'vitest';
import { createCompanyIds } from './company-ids';

const UUID_V7 = /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/;

describe('company ids', () => {
  it('are version 7 UUIDs, each greater than the one before, unique', () => {
    const next = createCompanyIds(Date.UTC(2026, 11, 5));
    const ids = Array.from({ length: 200_000 }, next);
    for (const id of ids.slice(0, 1_000)) expect(id).toMatch(UUID_V7);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]!.slice(0, 12)).toBe(Date.UTC(2026, 11, 5).toString(16).padStart(12, '0'));
  });

  it('keep their order where the counter carries into another byte (2^16, 2^22)', () => {
    const next = createCompanyIds(0);
    const at = (n: number) => {
      const ids = createCompanyIds(0);
      let id = '';
      for (let i = 0; i <= n; i++) id = ids();
      return id;
    };
    expect(next()).toMatch(UUID_V7);
    for (const n of [2 ** 16, 2 ** 22]) expect(at(n) > at(n - 1)).toBe(true);
  });
});
