/**
 * `npm run cli -- <command>`: operator commands.
 *
 *   db migrate
 *   org create <name> [--id <id>]
 *   key create --org <id> --role <admin|member|viewer> [--name <label>]
 *   key list [--org <id>]
 *   key revoke <prefix>
 *
 * Key commands use DATABASE_URL, else the embedded PostgreSQL of `npm start` (joined when it
 * runs, started from DATA_DIR for the command when it does not), with the credentials kept in
 * DATA_DIR (readable by the user who runs `npm start` only).
 */
import { parseArgs } from 'node:util';
import { escapeControlCharacters, Role } from '@gtm-enrich/contracts';
import { type AuthService, createAuthService } from './auth/auth.service';
import { connectDatabase, type DatabaseHandle } from './db/database';
import { embeddedPostgresUrl, startEmbeddedPostgres } from './db/embedded-postgres';
import { migrateDatabase } from './db/migrate';
import { isAppError } from './errors';
import { loadConfigOrExit } from './lifecycle';

const USAGE = `usage: npm run cli -- <command>
  db migrate
  org create <name> [--id <id>]
  key create --org <id> --role <admin|member|viewer> [--name <label>]
  key list [--org <id>]
  key revoke <prefix>`;

const config = loadConfigOrExit();
const [group, command, ...rest] = process.argv.slice(2);
// Whatever is printed may hold stored text (names, ids, messages quoting input): a control
// character in it is shown as an escape, never sent to the terminal as a command.
const out = (line: string) => process.stdout.write(`${escapeControlCharacters(line)}\n`);
const fail = (message: string, code = 1): never => {
  process.stderr.write(`${message.split('\n').map(escapeControlCharacters).join('\n')}\n`);
  process.exit(code);
};

/** Two: migrateDatabase holds one connection (its advisory lock) while the migrator uses another. */
const CLI_POOL_SIZE = 2;

async function openDatabase(): Promise<{ database: DatabaseHandle; close(): Promise<void> }> {
  if (config.DATABASE_URL) {
    const database = connectDatabase(config.DATABASE_URL, { poolSize: CLI_POOL_SIZE });
    return { database, close: () => database.close() };
  }
  // `npm start` running: join its database, with the credentials it keeps in DATA_DIR; otherwise
  // start it for this command.
  const url = await embeddedPostgresUrl(config.DATA_DIR, config.EMBEDDED_POSTGRES_PORT);
  if (url) {
    const running = connectDatabase(url, { poolSize: CLI_POOL_SIZE });
    try {
      await running.ping();
      return { database: running, close: () => running.close() };
    } catch {
      await running.close();
    }
  }
  const embedded = await startEmbeddedPostgres({
    dataDir: config.DATA_DIR,
    port: config.EMBEDDED_POSTGRES_PORT,
    log: () => {},
  });
  const database = connectDatabase(embedded.url, { poolSize: CLI_POOL_SIZE });
  return {
    database,
    async close() {
      await database.close();
      await embedded.stop();
    },
  };
}

async function withAuth(run: (auth: AuthService) => Promise<void>): Promise<void> {
  const { database, close } = await openDatabase();
  try {
    await migrateDatabase(database);
    await run(createAuthService({ db: database.db }));
  } catch (err) {
    if (isAppError(err)) fail(err.message);
    throw err;
  } finally {
    await close();
  }
}

function options(args: string[], known: Record<string, { type: 'string' }>) {
  try {
    return parseArgs({ args, options: known, allowPositionals: true });
  } catch (err) {
    return fail(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`, 2);
  }
}

const table = (given: string[][]) => {
  // Escaped before measuring, so that columns line up with what is shown.
  const rows = given.map((r) => r.map(escapeControlCharacters));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    out(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
};

if (group === 'db' && command === 'migrate') {
  if (!config.DATABASE_URL) {
    fail('db migrate needs DATABASE_URL (npm start migrates its embedded database by itself).');
  }
  const database = connectDatabase(config.DATABASE_URL!, { poolSize: CLI_POOL_SIZE });
  await migrateDatabase(database);
  await database.close();
  out('migrations applied');
} else if (group === 'org' && command === 'create') {
  const { values, positionals } = options(rest, { id: { type: 'string' } });
  const name = positionals.join(' ').trim();
  if (!name) fail(`org create needs a name.\n${USAGE}`, 2);
  await withAuth(async (auth) => {
    const org = await auth.createOrganization({ name, id: values.id });
    out(`organization created: ${org.id} (${org.name})`);
    out(`next: npm run cli -- key create --org ${org.id} --role admin`);
  });
} else if (group === 'key' && command === 'create') {
  const { values } = options(rest, {
    org: { type: 'string' },
    role: { type: 'string' },
    name: { type: 'string' },
  });
  const role = Role.safeParse(values.role);
  if (!values.org || !role.success)
    fail(`key create needs --org <id> and --role admin|member|viewer.\n${USAGE}`, 2);
  await withAuth(async (auth) => {
    const { key, apiKey } = await auth.createKey({
      orgId: values.org!,
      role: role.data!,
      name: values.name,
      actor: 'cli',
    });
    out(`API key created: ${apiKey.prefix}… (${apiKey.role} in ${apiKey.org_id})`);
    out('');
    out(`  ${key}`);
    out('');
    out('This is the only time the key is shown: only its hash is stored. Send it as');
    out('  Authorization: Bearer <key>');
  });
} else if (group === 'key' && command === 'list') {
  const { values } = options(rest, { org: { type: 'string' } });
  await withAuth(async (auth) => {
    const keys = await auth.listKeys(values.org);
    if (keys.length === 0) {
      out('no API keys');
      return;
    }
    table([
      ['PREFIX', 'ORG', 'ROLE', 'NAME', 'CREATED', 'LAST USED', 'REVOKED'],
      ...keys.map((k) => [
        k.prefix,
        k.org_id,
        k.role,
        k.name ?? '',
        k.created_at.slice(0, 16),
        k.last_used_at?.slice(0, 16) ?? 'never',
        k.revoked_at?.slice(0, 16) ?? '',
      ]),
    ]);
  });
} else if (group === 'key' && command === 'revoke') {
  const prefix = rest[0];
  if (!prefix) fail(`key revoke needs the key's prefix (see key list).\n${USAGE}`, 2);
  await withAuth(async (auth) => {
    const key = await auth.revokeKey(prefix!, { actor: 'cli' });
    out(`revoked: ${key.prefix} (${key.role} in ${key.org_id}) at ${key.revoked_at}`);
  });
} else {
  fail(USAGE, 2);
}
