/**
 * Organizations, API keys and the audit log: who may call the API, as which organization and
 * role, and the record of what they did. Used by the HTTP layer (http/auth.ts, routes) and the CLI.
 */
import {
  type ApiKey,
  type AuditEntry,
  type AuditLogList,
  FreeText,
  OrgId,
  type Role,
} from '@gtm-enrich/contracts';
import { decodeCursor, encodeCursor } from '../db/cursor';
import type { Database, Db } from '../db/database';
import type { ApiKeyRow, AuditLogRow } from '../db/schema';
import { AppError } from '../errors';
import { generateApiKey, hashApiKey, looksLikeApiKey, suppliedKeyPrefix, visiblePrefix } from './api-keys';
import {
  type AuditPosition,
  countActiveApiKeys,
  findApiKeyByHash,
  findApiKeyByPrefix,
  findOrganization,
  insertApiKey,
  insertAuditEntry,
  insertOrganization,
  listApiKeys,
  listAuditEntries,
  lockActiveAdminKeys,
  renameKeyPrefix,
  revokeApiKey,
  touchApiKey,
} from './auth.repository';

/** Who is calling: everything a request handler may rely on once the key is checked. */
export type AuthContext = {
  keyId: string;
  keyPrefix: string;
  orgId: string;
  orgName: string;
  role: Role;
};

export type AuthFailure = 'malformed' | 'unknown' | 'revoked';
export type AuthResult =
  | { ok: true; auth: AuthContext }
  | {
      ok: false;
      failure: AuthFailure;
      /** A revoked key is still known: whose it was, so that its organization's audit log can tell. */
      revoked?: { orgId: string; keyPrefix: string };
    };

/**
 * Who acted, for the audit log: a key (by prefix) with the request and the client's address, the
 * CLI, or start-up bootstrap. Never a key itself.
 */
export type Actor = { keyPrefix: string; requestId?: string; ip?: string } | 'cli' | 'bootstrap';

export type AuditRecord = {
  orgId: string;
  actor: Actor;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
};

export type AuthServiceDeps = {
  db: Database;
  /** How often `last_used_at` is written per key at most; default one minute. */
  lastUsedIntervalMs?: number;
  /** A failed `last_used_at` write must not fail the request; it is reported here. */
  onBackgroundError?: (err: unknown) => void;
};

const LAST_USED_INTERVAL_MS = 60_000;
/** Keys whose `last_used_at` was written recently, per process, so most requests skip the write. */
const TOUCH_MEMO_MAX = 10_000;

const actorName = (actor: Actor) => (typeof actor === 'string' ? actor : actor.keyPrefix);

export function toApiKeyResource(row: ApiKeyRow): ApiKey {
  return {
    prefix: row.prefix,
    org_id: row.orgId,
    role: row.role,
    name: row.name,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

function toAuditEntry(row: AuditLogRow): AuditEntry {
  return {
    id: row.publicId,
    at: row.createdAt.toISOString(),
    actor: row.actor,
    action: row.action,
    target_type: row.targetType,
    target_id: row.targetId,
    details: (row.details as Record<string, unknown> | null) ?? null,
    request_id: row.requestId,
    client_ip: row.clientIp,
  };
}

const AUDIT_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An audit cursor as this service writes it; anything else is refused before it reaches SQL. */
function isAuditPosition(v: unknown): v is AuditPosition {
  if (typeof v !== 'object' || v === null) return false;
  const { at, id } = v as Partial<AuditPosition>;
  return (
    typeof at === 'string' &&
    AUDIT_AT.test(at) &&
    !Number.isNaN(Date.parse(at)) &&
    typeof id === 'string' &&
    UUID.test(id)
  );
}

/** "Acme Corp." → "acme-corp": an organization id people can type. */
export function slugifyOrgName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
}

/** Longest organization name. */
const ORG_NAME_MAX_CHARS = 200;
/** Longest API key name (the API's own limit, CreateApiKeyBody). */
const KEY_NAME_MAX_CHARS = 100;

/**
 * Names reach terminals (the CLI) and logs: the same rule for the CLI as for the API, checked
 * here so that no way in skips it. Returns the trimmed name.
 */
function checkedName(what: string, value: string, max: number): string {
  const parsed = FreeText(max).safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AppError(
    'VALIDATION_FAILED',
    `${what}: ${parsed.error.issues[0]?.message ?? 'not a usable name'}.`,
  );
}

async function record(db: Db, entry: AuditRecord): Promise<void> {
  await insertAuditEntry(db, {
    orgId: entry.orgId,
    actor: actorName(entry.actor),
    action: entry.action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    details: entry.details ?? null,
    requestId: typeof entry.actor === 'string' ? null : (entry.actor.requestId ?? null),
    clientIp: typeof entry.actor === 'string' ? null : (entry.actor.ip ?? null),
  });
}

export function createAuthService(deps: AuthServiceDeps) {
  const { db } = deps;
  const touchIntervalMs = deps.lastUsedIntervalMs ?? LAST_USED_INTERVAL_MS;
  const touchedAt = new Map<string, number>();

  function touch(keyId: string): void {
    const now = Date.now();
    const last = touchedAt.get(keyId);
    if (last !== undefined && now - last < touchIntervalMs) return;
    if (touchedAt.size >= TOUCH_MEMO_MAX) touchedAt.clear();
    touchedAt.set(keyId, now);
    // The conditional update keeps it to one write a minute across processes too.
    touchApiKey(db, keyId, touchIntervalMs).catch((err: unknown) => deps.onBackgroundError?.(err));
  }

  async function requireOrganization(orgId: string) {
    const org = await findOrganization(db, orgId);
    if (!org) throw new AppError('NOT_FOUND', `No organization ${orgId}.`);
    return org;
  }

  async function insertKey(
    tx: Db,
    input: {
      orgId: string;
      role: Role;
      name?: string | null;
      key: string;
      /** Chosen by someone else (BOOTSTRAP_API_KEY): its visible prefix comes from its hash. */
      supplied?: boolean;
      actor: Actor;
    },
  ): Promise<ApiKeyRow> {
    const row = await insertApiKey(tx, {
      orgId: input.orgId,
      role: input.role,
      name: input.name ?? null,
      prefix: input.supplied ? suppliedKeyPrefix(input.key) : visiblePrefix(input.key),
      keyHash: hashApiKey(input.key),
      createdBy: actorName(input.actor),
    });
    await record(tx, {
      orgId: input.orgId,
      actor: input.actor,
      action: 'key.create',
      targetType: 'api_key',
      targetId: row.prefix,
      details: { role: row.role, name: row.name },
    });
    return row;
  }

  return {
    /** Checks a presented key: one indexed lookup by its hash. */
    async authenticate(presented: string): Promise<AuthResult> {
      if (!looksLikeApiKey(presented)) return { ok: false, failure: 'malformed' };
      const row = await findApiKeyByHash(db, hashApiKey(presented));
      if (!row) return { ok: false, failure: 'unknown' };
      if (row.revokedAt) {
        return { ok: false, failure: 'revoked', revoked: { orgId: row.orgId, keyPrefix: row.prefix } };
      }
      touch(row.id);
      return {
        ok: true,
        auth: {
          keyId: row.id,
          keyPrefix: row.prefix,
          orgId: row.orgId,
          orgName: row.orgName,
          role: row.role,
        },
      };
    },

    async createOrganization(input: { name: string; id?: string }): Promise<{ id: string; name: string }> {
      const name = checkedName('Organization name', input.name, ORG_NAME_MAX_CHARS);
      const id = input.id ?? slugifyOrgName(name);
      const valid = OrgId.safeParse(id);
      if (!valid.success) {
        throw new AppError(
          'VALIDATION_FAILED',
          `"${id}" is not a usable organization id: ${valid.error.issues[0]?.message}. Pass --id.`,
        );
      }
      if (!(await insertOrganization(db, { id, name }))) {
        throw new AppError('CONFLICT', `Organization ${id} already exists.`);
      }
      return { id, name };
    },

    /** A new random key; the only time the key itself is returned. */
    async createKey(input: {
      orgId: string;
      role: Role;
      name?: string;
      actor: Actor;
    }): Promise<{ key: string; apiKey: ApiKey }> {
      const name =
        input.name === undefined ? undefined : checkedName('Key name', input.name, KEY_NAME_MAX_CHARS);
      await requireOrganization(input.orgId);
      const key = generateApiKey();
      const row = await db.transaction((tx) => insertKey(tx, { ...input, name, key }));
      return { key, apiKey: toApiKeyResource(row) };
    },

    async listKeys(orgId?: string): Promise<ApiKey[]> {
      return (await listApiKeys(db, orgId)).map(toApiKeyResource);
    },

    /**
     * Revokes by prefix; with `orgId`, only that organization's keys are found (others: 404). With
     * `keepOneAdmin` (the API), the organization's last active admin key is refused (409): an
     * organization locked out of its own keys needs an operator. The CLI is that operator.
     */
    async revokeKey(
      prefix: string,
      opts: { orgId?: string; actor: Actor; keepOneAdmin?: boolean },
    ): Promise<ApiKey> {
      const found = await findApiKeyByPrefix(db, prefix, opts.orgId);
      if (!found) throw new AppError('NOT_FOUND', `No API key ${prefix}.`);
      if (found.revokedAt) return toApiKeyResource(found);
      const revoked = await db.transaction(async (tx) => {
        if (opts.keepOneAdmin && found.role === 'admin') {
          const admins = await lockActiveAdminKeys(tx, found.orgId);
          if (admins.every((id) => id === found.id)) {
            throw new AppError(
              'CONFLICT',
              `${prefix} is the last active admin key of ${found.orgId}: create another admin key first, then revoke this one.`,
            );
          }
        }
        const row = await revokeApiKey(tx, found.id);
        if (row) {
          await record(tx, {
            orgId: row.orgId,
            actor: opts.actor,
            action: 'key.revoke',
            targetType: 'api_key',
            targetId: row.prefix,
          });
        }
        return row;
      });
      // Revoked meanwhile by someone else: the same outcome.
      return toApiKeyResource(revoked ?? (await findApiKeyByPrefix(db, prefix))!);
    },

    /**
     * BOOTSTRAP_API_KEY: makes sure its organization and an admin key with exactly this value
     * exist. A key an operator revoked stays revoked (reported, not revived). A key stored
     * before prefixes of supplied keys came from their hash gets its new prefix here, everywhere
     * the old one (the key's first characters) was written.
     */
    async ensureBootstrapKey(key: string, orgId: string): Promise<'created' | 'exists' | 'revoked'> {
      const existing = await findApiKeyByHash(db, hashApiKey(key));
      const prefix = suppliedKeyPrefix(key);
      if (existing && existing.prefix !== prefix) {
        await db.transaction((tx) => renameKeyPrefix(tx, existing.id, existing.prefix, prefix));
      }
      if (existing) return existing.revokedAt ? 'revoked' : 'exists';
      await db.transaction(async (tx) => {
        await insertOrganization(tx, { id: orgId, name: orgId });
        await insertKey(tx, {
          orgId,
          role: 'admin',
          name: 'bootstrap',
          key,
          supplied: true,
          actor: 'bootstrap',
        });
      });
      return 'created';
    },

    /** First run without BOOTSTRAP_API_KEY: one admin key when no active key exists at all; else null. */
    async createFirstRunKey(orgId: string): Promise<string | null> {
      if ((await countActiveApiKeys(db)) > 0) return null;
      const key = generateApiKey();
      await db.transaction(async (tx) => {
        await insertOrganization(tx, { id: orgId, name: orgId });
        await insertKey(tx, { orgId, role: 'admin', name: 'first run', key, actor: 'bootstrap' });
      });
      return key;
    },

    async countActiveKeys(): Promise<number> {
      return countActiveApiKeys(db);
    },

    /** Appends to the audit log. */
    record: (entry: AuditRecord) => record(db, entry),

    /** An organization's audit log, newest first, one keyset page at a time. */
    async listAudit(orgId: string, page: { limit: number; cursor?: string }): Promise<AuditLogList> {
      const before = page.cursor ? decodeCursor(page.cursor, isAuditPosition) : null;
      const rows = await listAuditEntries(db, orgId, { limit: page.limit + 1, before });
      const data = rows.slice(0, page.limit);
      const last = data[data.length - 1];
      return {
        data: data.map((r) => toAuditEntry(r.entry)),
        next_cursor:
          rows.length > page.limit && last
            ? encodeCursor({ at: last.at, id: last.entry.publicId } satisfies AuditPosition)
            : null,
      };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
