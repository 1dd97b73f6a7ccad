/**
 * A whole system for a test: a fresh database, the sandbox as a real HTTP server on loopback,
 * the API listening on a random port, and a worker on the chosen queue adapter.
 *
 * Every /api route needs an API key. The system starts with TEST_ADMIN_KEY (BOOTSTRAP_API_KEY,
 * an admin of organization `acme`), and the helpers here send a key by themselves: `upload()`
 * and `apiFetch()` use a key of the organization named by `org_id` (made on first use), else
 * TEST_ADMIN_KEY. Pass an `authorization` header to send another (or none: `key: null`).
 */
import { randomBytes } from 'node:crypto';
import type { Job, Role } from '@gtm-enrich/contracts';
import pino, { type DestinationStream } from 'pino';
import { expect, inject } from 'vitest';
import { loadConfig } from '../src/config';
import { isAppError } from '../src/errors';
import { createLogger } from '../src/logger';
import type { ProviderName } from '../src/providers/provider';
import { startSandboxServer } from '../src/providers/sandbox/sandbox-server';
import { createSystem, type ProviderEndpoint, type ProviderSet, type System } from '../src/system';
import { createTestDatabase } from './test-database';

export type QueueKind = 'in-process' | 'bullmq';

/** The queue adapters available in this run: BullMQ only when REDIS_URL is set. */
export function queueKinds(): QueueKind[] {
  return inject('redisUrl') ? ['in-process', 'bullmq'] : ['in-process'];
}

/** The bootstrap admin key of every test system (organization TEST_ORG_ID). */
export const TEST_ADMIN_KEY = 'gtm_test-admin-key-0123456789abcdefghijklmnop';
export const TEST_ORG_ID = 'acme';

export type TestSystem = {
  system: System;
  baseUrl: string;
  /** TEST_ADMIN_KEY. */
  key: string;
  /** A key of this organization and role (organization and key made on first use, then reused). */
  keyFor(orgId: string, role?: Role): Promise<string>;
  sandbox: Awaited<ReturnType<typeof startSandboxServer>>;
  databaseUrl: string;
  stop(): Promise<void>;
};

export async function startTestSystem(
  opts: {
    queue?: QueueKind;
    sandbox?: Parameters<typeof startSandboxServer>[0];
    env?: Record<string, string>;
    roles?: { api: boolean; worker: boolean };
    /** Join another test system's database and sandbox instead of making new ones (they stay its to stop). */
    shareWith?: TestSystem;
    /** Call the provider there instead of the test's sandbox (a proxy in front of it, say). */
    providerUrl?: string;
    /** Another provider altogether (People Data Labs' emulator, the web provider). */
    provider?: ProviderEndpoint;
    /**
     * Several providers: the installation can ask each, and its default waterfall is their order
     * (or `waterfall`). Instead of `provider`; a sandbox without a baseUrl is the test's own.
     */
    providers?: ProviderEndpoint[];
    waterfall?: ProviderName[];
    /** Where the system's JSON log lines go (at debug level); default: no logs. */
    logDestination?: DestinationStream;
  } = {},
): Promise<TestSystem> {
  const shared = opts.shareWith;
  const database = shared ? { url: shared.databaseUrl, drop: async () => {} } : await createTestDatabase();
  const sandbox = shared?.sandbox ?? (await startSandboxServer({ apiKey: 'test-key', ...opts.sandbox }));
  const redisUrl = inject('redisUrl');
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    METRICS_PORT: '0',
    TASK_BACKOFF_BASE_MS: '20',
    TASK_BACKOFF_MAX_MS: '200',
    PROVIDER_BATCH_WINDOW_MS: '20',
    PROVIDER_TIMEOUT_MS: '5000',
    QUEUE_PREFIX: shared?.system.config.QUEUE_PREFIX ?? `test-${randomBytes(4).toString('hex')}`,
    BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
    BOOTSTRAP_ORG_ID: TEST_ORG_ID,
    ...(opts.queue === 'bullmq' && redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...opts.env,
  });
  const system = await createSystem({
    config,
    logger: opts.logDestination
      ? createLogger({ LOG_LEVEL: 'debug', LOG_FORMAT: 'json', NODE_ENV: 'test' }, opts.logDestination)
      : pino({ level: 'silent' }),
    databaseUrl: database.url,
    roles: opts.roles ?? { api: true, worker: true },
    providers: providerSet(
      // A sandbox named without an address is this test system's own.
      opts.providers?.map((e) =>
        e.name === 'sandbox' && !e.baseUrl ? { ...e, baseUrl: sandbox.url } : e,
      ) ?? [
        opts.provider ?? {
          name: 'sandbox',
          baseUrl: opts.providerUrl ?? sandbox.url,
          apiKey: 'test-key',
          stop: async () => {},
        },
      ],
      opts.waterfall,
    ),
  });
  const address = await system.start();
  const keys = keyCache(database.url);
  const testSystem: TestSystem = {
    system,
    baseUrl: address ?? '',
    key: TEST_ADMIN_KEY,
    async keyFor(orgId, role = 'admin') {
      if (orgId === TEST_ORG_ID && role === 'admin') return TEST_ADMIN_KEY;
      const id = `${orgId}/${role}`;
      let key = keys.get(id);
      if (!key) {
        key = (async () => {
          try {
            await system.auth.createOrganization({ name: orgId, id: orgId });
          } catch (err) {
            if (!(isAppError(err) && err.code === 'CONFLICT')) throw err;
          }
          return (await system.auth.createKey({ orgId, role, name: `test ${role}`, actor: 'cli' })).key;
        })();
        keys.set(id, key);
      }
      return key;
    },
    sandbox,
    databaseUrl: database.url,
    async stop() {
      systems.delete(testSystem.baseUrl);
      await system.stop();
      if (shared) return;
      await sandbox.close();
      await database.drop();
    },
  };
  if (address) systems.set(address, testSystem);
  return testSystem;
}

/** The providers a test system can ask; its default waterfall is theirs in order unless given. */
export function providerSet(available: ProviderEndpoint[], waterfall?: ProviderName[]): ProviderSet {
  return {
    available,
    waterfall: waterfall ?? available.map((e) => e.name),
    stop: async () => {},
  };
}

/** Running test systems by base URL, so the helpers find the one a URL points at. */
const systems = new Map<string, TestSystem>();
/** Keys made per database: systems that share one share their keys. */
const keysByDatabase = new Map<string, Map<string, Promise<string>>>();
function keyCache(databaseUrl: string) {
  let keys = keysByDatabase.get(databaseUrl);
  if (!keys) {
    keys = new Map();
    keysByDatabase.set(databaseUrl, keys);
  }
  return keys;
}

/** The key the helpers send to `url`: one of the organization in `orgId`, else TEST_ADMIN_KEY. */
async function keyForUrl(url: string, orgId: string | null | undefined): Promise<string> {
  const origin = new URL(url).origin;
  const t = systems.get(origin);
  if (!t) throw new Error(`No running test system at ${origin}`);
  return orgId ? t.keyFor(orgId) : t.key;
}

/**
 * fetch with an API key: the key of the organization in the URL's `org_id` (the same one, so it
 * is accepted), else TEST_ADMIN_KEY. An `authorization` header given in `init` is sent as is.
 */
/** Polls a job until it has `status` (default completed); returns it as last read. */
export async function waitForJob(
  baseUrl: string,
  jobId: string,
  opts: { status?: Job['status']; timeoutMs?: number } = {},
): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(
      async () => {
        job = (await (await apiFetch(`${baseUrl}/api/v1/jobs/${jobId}`)).json()) as Job;
        return job.status;
      },
      { timeout: opts.timeoutMs ?? 20_000, interval: 100 },
    )
    .toBe(opts.status ?? 'completed');
  return job!;
}

export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) {
    const key = await keyForUrl(url, new URL(url).searchParams.get('org_id'));
    headers.set('authorization', `Bearer ${key}`);
  }
  return fetch(url, { ...init, headers });
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export function csvFile(lines: string[], name = 'companies.csv'): File {
  return new File([lines.join('\n')], name, { type: 'text/csv' });
}

/**
 * POST /api/v1/uploads with the key of the organization in `fields.org_id` (TEST_ADMIN_KEY
 * without one), or `key` when given (null: no key at all).
 */
export async function upload(
  baseUrl: string,
  file: Blob | File,
  fields: Record<string, string> = { org_id: TEST_ORG_ID },
  key?: string | null,
): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', file);
  const sent = key === undefined ? await keyForUrl(baseUrl, fields.org_id) : key;
  return fetch(`${baseUrl}/api/v1/uploads`, {
    method: 'POST',
    body: form,
    headers: sent === null ? {} : bearer(sent),
  });
}
