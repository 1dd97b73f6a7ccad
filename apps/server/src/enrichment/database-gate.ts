/**
 * What a worker does while PostgreSQL cannot be reached. A provider answer is money already
 * spent: it is held in memory and its write retried until the database is back, never dropped.
 * Meanwhile no new provider call leaves (a result that could not be written would only pile up),
 * and claims wait too. Memory stays bounded: each held result belongs to a task still running,
 * and the queue gives a worker no more than WORKER_CONCURRENCY tasks at once.
 */

export type DatabaseGate = {
  /** Resolves at once while the database answers; while it does not, when it answers again. */
  ready(): Promise<void>;
  /**
   * Runs `write` until it succeeds, waiting out every spell of unavailability; any other error is
   * thrown. The write must be safe to repeat (conditional or idempotent): a statement cut off
   * with its connection may have committed.
   */
  retryUntilWritten<T>(write: () => Promise<T>): Promise<T>;
  /** Whether the database is believed reachable now. */
  isUp(): boolean;
  close(): void;
};

// PostgreSQL SQLSTATE classes and codes that say "not now", not "never": connection exceptions,
// the server shutting down or starting, too many connections.
const RETRYABLE_SQLSTATE_CLASSES = ['08'];
const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
// Concurrency outcomes that the same statement, run again, resolves: deadlock, serialization.
const CONFLICT_SQLSTATES = new Set(['40P01', '40001']);
const CONFLICT_RETRY_MAX_MS = 50;
const RETRYABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// node-postgres reports a lost connection with messages rather than codes.
const RETRYABLE_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
];

function sqlState(err: unknown): string | null {
  const code = err instanceof Error ? (err as { code?: unknown }).code : null;
  return typeof code === 'string' ? code : null;
}

/** True when `err` (or its cause) means the database could not be reached or is restarting. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (RETRYABLE_SQLSTATES.has(code) || RETRYABLE_NODE_CODES.has(code)) return true;
      if (code.length === 5 && RETRYABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
    }
    if (RETRYABLE_MESSAGES.some((m) => e instanceof Error && e.message.includes(m))) return true;
  }
  return false;
}

export function createDatabaseGate(opts: {
  ping: () => Promise<void>;
  /** How often to ask whether the database is back, in ms. */
  probeIntervalMs: number;
  onDown?: (err: unknown) => void;
  onUp?: (downForMs: number) => void;
}): DatabaseGate {
  let down: Promise<void> | null = null;
  let closed = false;

  function markDown(err: unknown): Promise<void> {
    if (down) return down;
    const since = performance.now();
    opts.onDown?.(err);
    down = (async () => {
      while (!closed) {
        await new Promise((r) => setTimeout(r, opts.probeIntervalMs));
        try {
          await opts.ping();
          break;
        } catch {
          // Still down: probe again.
        }
      }
      down = null;
      opts.onUp?.(performance.now() - since);
    })();
    return down;
  }

  return {
    ready: () => down ?? Promise.resolve(),
    isUp: () => down === null,
    async retryUntilWritten(write) {
      for (;;) {
        if (down) await down;
        try {
          return await write();
        } catch (err) {
          if (closed) throw err;
          if (CONFLICT_SQLSTATES.has(sqlState(err) ?? '')) {
            await new Promise((r) => setTimeout(r, Math.random() * CONFLICT_RETRY_MAX_MS));
            continue;
          }
          if (!isDatabaseUnavailable(err)) throw err;
          await markDown(err);
        }
      }
    },
    close() {
      closed = true;
    },
  };
}
