import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('runs with nothing set: embedded defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      DATABASE_URL: undefined,
      REDIS_URL: undefined,
      TASK_MAX_ATTEMPTS: 8,
      CLAIM_LEASE_MS: 30_000,
      CLAIM_RENEW_INTERVAL_MS: 10_000,
      SWEEP_INTERVAL_MS: 15_000,
    });
    expect(c.MAX_UPLOAD_BYTES).toBe(200 * 1024 * 1024);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ EXPLORIUM_API_KEY: '', DATABASE_URL: '  ' })).toMatchObject({
      EXPLORIUM_API_KEY: undefined,
      DATABASE_URL: undefined,
    });
  });

  it('lists every bad key at once instead of falling back to a default', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        TASK_MAX_ATTEMPTS: '0',
        SANDBOX_ERROR_RATE: '2',
        EXPLORIUM_BASE_URL: 'not a url',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    for (const key of ['PORT', 'TASK_MAX_ATTEMPTS', 'SANDBOX_ERROR_RATE', 'EXPLORIUM_BASE_URL']) {
      expect(issues).toContain(key);
    }
  });

  it('splits the blocked email domain list', () => {
    expect(loadConfig({ BLOCKED_EMAIL_DOMAINS: ' Corp-Mail.com, ,other.org' }).BLOCKED_EMAIL_DOMAINS).toEqual(
      ['corp-mail.com', 'other.org'],
    );
  });

  it('documents every key in .env.example', () => {
    const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(CONFIG_KEYS.filter((k) => !documented.has(k))).toEqual([]);
  });

  it("lists every key in the README's configuration table", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const listed = new Set([...readme.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]));
    expect(CONFIG_KEYS.filter((k) => !listed.has(k))).toEqual([]);
  });
  it('refuses a claim renewal interval longer than half the lease', () => {
    expect(() => loadConfig({ CLAIM_LEASE_MS: '10000', CLAIM_RENEW_INTERVAL_MS: '6000' })).toThrow(
      /CLAIM_RENEW_INTERVAL_MS: must be at most half of CLAIM_LEASE_MS/,
    );
    expect(
      loadConfig({ CLAIM_LEASE_MS: '10000', CLAIM_RENEW_INTERVAL_MS: '5000' }).CLAIM_RENEW_INTERVAL_MS,
    ).toBe(5_000);
  });
});
