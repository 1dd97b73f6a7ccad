import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, ConfigError, loadConfig } from './config';

function issuesOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.join('\n');
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

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

  it('treats every key set to nothing as unset: the defaults apply, never 0', () => {
    const blank = Object.fromEntries(CONFIG_KEYS.map((k, i) => [k, i % 2 === 0 ? '' : '   ']));
    expect(loadConfig(blank)).toEqual(loadConfig({}));
    const c = loadConfig({
      PORT: '',
      API_RATE_LIMIT_PER_MIN: '',
      HTTP_REQUEST_TIMEOUT_MS: '',
      ENRICHMENT_CACHE_TTL_DAYS: '',
      SHUTDOWN_GRACE_MS: '',
    });
    expect(c).toMatchObject({
      PORT: 3000,
      API_RATE_LIMIT_PER_MIN: 1200,
      HTTP_REQUEST_TIMEOUT_MS: 15 * 60_000,
      ENRICHMENT_CACHE_TTL_DAYS: 30,
      SHUTDOWN_GRACE_MS: 20_000,
    });
  });

  it('accepts the URL schemes each service speaks', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgresql://app:secret@db.internal:5432/gtm?sslmode=require',
      REDIS_URL: 'rediss://:secret@cache.internal:6380/2',
      EXPLORIUM_BASE_URL: 'http://explorium.test',
      SANDBOX_URL: 'https://sandbox.test:4010',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
    });
    expect(c.DATABASE_URL).toBe('postgresql://app:secret@db.internal:5432/gtm?sslmode=require');
    expect(loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1/test' }).DATABASE_URL).toBe(
      'postgres://postgres@127.0.0.1/test',
    );
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).REDIS_URL).toBe('redis://127.0.0.1:6379');
  });

  it.each([
    [
      'DATABASE_URL',
      'garbage',
      /DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL; the value set is not a URL/,
    ],
    [
      'DATABASE_URL',
      'mysql://root:hunter2@db/app',
      /DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL, not mysql:\/\//,
    ],
    [
      'REDIS_URL',
      'garbage',
      /REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL; the value set is not a URL/,
    ],
    [
      'REDIS_URL',
      'http://127.0.0.1:6379',
      /REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL, not http:\/\//,
    ],
    [
      'EXPLORIUM_BASE_URL',
      'ftp://api.explorium.ai',
      /EXPLORIUM_BASE_URL: must be a http:\/\/ or https:\/\/ URL, not ftp:\/\//,
    ],
    ['SANDBOX_URL', 'sandbox:4010', /SANDBOX_URL: must be a http:\/\/ or https:\/\/ URL, not sandbox:\/\//],
    [
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'jaeger',
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be a http:\/\/ or https:\/\/ URL; the value set is not a URL/,
    ],
    [
      'CORS_ORIGINS',
      'https://ok.example.com,ftp://files.example.com',
      /CORS_ORIGINS must list http\(s\) origins/,
    ],
  ])('refuses %s=%s, naming the key and never echoing the value', (key, value, message) => {
    const issues = issuesOf({ [key]: value });
    expect(issues).toMatch(message);
    expect(issues).not.toContain('hunter2');
  });

  it('stops an entry point with the config error, not a driver stack trace', async () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const result = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'apps/server/src/main-api.ts'],
      {
        cwd: root,
        env: { PATH: process.env.PATH, DATABASE_URL: 'garbage', REDIS_URL: 'garbage' },
        timeout: 30_000,
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL: must be a postgres://');
    expect(result.stderr).toContain('REDIS_URL: must be a redis://');
    expect(result.stderr).not.toMatch(/^\s+at /m);
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

  it('takes a PDL likelihood threshold from 1 to 10 only', () => {
    expect(loadConfig({}).PDL_MIN_LIKELIHOOD).toBe(5);
    expect(loadConfig({ PDL_MIN_LIKELIHOOD: '8' }).PDL_MIN_LIKELIHOOD).toBe(8);
    expect(() => loadConfig({ PDL_MIN_LIKELIHOOD: '11' })).toThrow(/PDL_MIN_LIKELIHOOD/);
    expect(() => loadConfig({ PDL_MIN_LIKELIHOOD: '0' })).toThrow(/PDL_MIN_LIKELIHOOD/);
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
