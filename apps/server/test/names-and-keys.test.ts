/**
 * Names are data, never control: what a client or an operator names reaches terminals and logs,
 * so control characters are refused where text comes in and escaped where the CLI prints it. A
 * supplied key (BOOTSTRAP_API_KEY) must follow the grammar authentication accepts, and its visible
 * prefix says nothing about it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hasControlCharacters, type Me } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, suppliedKeyPrefix } from '../src/auth/api-keys';
import { ConfigError, loadConfig } from '../src/config';
import { isAppError } from '../src/errors';
import { bearer, csvFile, startTestSystem, TEST_ADMIN_KEY, type TestSystem, upload } from './test-system';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const HOSTILE = [
  'evil\u001b]0;pwned\u0007',
  'two\nlines',
  'tab\there',
  'bell\u0007',
  'rtl\u202etxt.exe',
  'c1\u009b31m',
];

describe('names and keys', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('refuses control characters in key names with 400, and keeps ordinary names', async () => {
    for (const name of HOSTILE) {
      const res = await fetch(`${t.baseUrl}/api/v1/keys`, {
        method: 'POST',
        headers: { ...bearer(t.key), 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'viewer', name }),
      });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
    const ok = await fetch(`${t.baseUrl}/api/v1/keys`, {
      method: 'POST',
      headers: { ...bearer(t.key), 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer', name: 'Zoë — CI (eu)' }),
    });
    expect(ok.status).toBe(201);
    expect((await t.system.auth.listKeys('acme')).map((k) => k.name)).not.toEqual(
      expect.arrayContaining(HOSTILE),
    );
  });

  it('refuses control characters in organization and key names given to the service (the CLI’s way in)', async () => {
    for (const name of HOSTILE) {
      const org = await t.system.auth.createOrganization({ name, id: 'hostile' }).catch((e: unknown) => e);
      expect(isAppError(org) && org.code, JSON.stringify(name)).toBe('VALIDATION_FAILED');
      const key = await t.system.auth
        .createKey({ orgId: 'acme', role: 'viewer', name, actor: 'cli' })
        .catch((e: unknown) => e);
      expect(isAppError(key) && key.code, JSON.stringify(name)).toBe('VALIDATION_FAILED');
    }
    expect(await t.system.auth.createOrganization({ name: 'Ünïcode GmbH', id: 'unicode' })).toEqual({
      id: 'unicode',
      name: 'Ünïcode GmbH',
    });
  });

  it('refuses control characters in an upload’s domain_column and file name', async () => {
    const column = await upload(t.baseUrl, csvFile(['domain', 'stripe.com']), {
      domain_column: 'domain\u001b[2J',
    });
    expect(column.status).toBe(400);
    expect(await column.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    const named = await upload(t.baseUrl, csvFile(['domain', 'stripe.com'], 'list\u001b]0;x\u0007.csv'), {});
    expect(named.status).toBe(400);
    expect(await named.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it('prints stored names escaped in the CLI: no control character reaches the terminal', async () => {
    await t.system.auth.createKey({ orgId: 'acme', role: 'viewer', name: 'plain', actor: 'cli' });
    // Stored before names were checked, or written by hand: the CLI must still print it safely.
    await t.system.database.db.execute(
      sql`update api_keys set name = ${'evil\u001b]0;pwned\u0007\nFORGED ROW'} where name = 'plain'`,
    );
    await t.system.database.db.execute(
      sql`insert into organizations (id, name) values ('raw-org', ${'Raw\u001b[31m Org'})`,
    );
    const { stdout } = await promisify(execFile)(
      'node',
      ['--import', 'tsx', 'apps/server/src/cli.ts', 'key', 'list', '--org', 'acme'],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: t.databaseUrl, LOG_LEVEL: 'silent' } },
    );
    expect(stdout).toContain('evil\\x1b]0;pwned\\x07\\x0aFORGED ROW');
    for (const line of stdout.split('\n')) expect(hasControlCharacters(line), line).toBe(false);
    // One line per key plus the header: the newline in the name forged none.
    const keys = await t.system.auth.listKeys('acme');
    expect(stdout.trimEnd().split('\n')).toHaveLength(keys.length + 1);
  }, 60_000);

  it('shows a supplied key by a prefix taken from its hash, never from the key', async () => {
    const me = (await (
      await fetch(`${t.baseUrl}/api/v1/me`, { headers: bearer(TEST_ADMIN_KEY) })
    ).json()) as Me;
    expect(me.key_prefix).toBe(suppliedKeyPrefix(TEST_ADMIN_KEY));
    expect(me.key_prefix).toBe(`sup_${hashApiKey(TEST_ADMIN_KEY).slice(0, 8)}`);
    const listed = JSON.stringify(await t.system.auth.listKeys('acme'));
    expect(listed).not.toContain(TEST_ADMIN_KEY.slice(0, 12));
    expect(listed).not.toContain(TEST_ADMIN_KEY.slice(4, 12));
  });

  it('renames a supplied key stored under its old prefix (its first characters), everywhere it is named', async () => {
    const key = 'legacy-bootstrap-key-0123456789-abcdefghij';
    const old = key.slice(0, 12);
    await t.system.database.db.execute(sql`
      insert into api_keys (org_id, role, name, prefix, key_hash, created_by)
      values ('acme', 'admin', 'bootstrap', ${old}, ${hashApiKey(key)}, 'bootstrap')`);
    await t.system.database.db.execute(sql`
      insert into audit_log (org_id, actor, action, target_type, target_id)
      values ('acme', 'bootstrap', 'key.create', 'api_key', ${old}), ('acme', ${old}, 'job.upload', 'job', null)`);
    expect(await t.system.auth.ensureBootstrapKey(key, 'acme')).toBe('exists');
    const prefix = suppliedKeyPrefix(key);
    const keys = await t.system.database.db.execute(
      sql`select prefix from api_keys where key_hash = ${hashApiKey(key)}`,
    );
    expect(keys.rows).toEqual([{ prefix }]);
    const audit = await t.system.database.db.execute(
      sql`select count(*)::int as n from audit_log where actor = ${old} or target_id = ${old}`,
    );
    expect(audit.rows).toEqual([{ n: 0 }]);
    const renamed = await t.system.database.db.execute(
      sql`select count(*)::int as n from audit_log where actor = ${prefix} or target_id = ${prefix}`,
    );
    expect(renamed.rows).toEqual([{ n: 2 }]);
  });
});

describe('BOOTSTRAP_API_KEY', () => {
  const attempt = (value: string) => {
    try {
      loadConfig({ BOOTSTRAP_API_KEY: value });
      return null;
    } catch (err) {
      return err;
    }
  };

  it('is refused at start-up when authentication would never accept it, naming the rule', () => {
    for (const value of [
      'abc:defghijklmnopqrstuvwxyz0123456789',
      'abcdefghijklmnop#qrstuvwxyz0123456789',
      'a'.repeat(257),
    ]) {
      const err = attempt(value);
      expect(err, value).toBeInstanceOf(ConfigError);
      expect(String((err as ConfigError).message)).toMatch(
        /BOOTSTRAP_API_KEY must be an API key: letters, digits/,
      );
      // The refusal names the rule, never the value.
      expect(String((err as ConfigError).message)).not.toContain(value);
    }
    expect(String((attempt('short') as ConfigError).message)).toContain('at least 32 characters');
  });

  it('accepts what `openssl rand -base64 32` and the generator produce', () => {
    expect(attempt('q3Zr1xYyW3u2v1Hk7mM0s9a8b7c6d5e4f3g2h1i0jKk=')).toBeNull();
    expect(attempt(TEST_ADMIN_KEY)).toBeNull();
  });
});
