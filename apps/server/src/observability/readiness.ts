/**
 * Readiness: can this process do its work now? Each check (the database, the queue, the
 * provider's circuit) answers within a deadline or counts as failed, so /readyz answers a load
 * balancer or an orchestrator in time even when PostgreSQL is frozen (a query waits forever on a
 * stopped server) or Redis is down (ioredis queues commands while it reconnects).
 *
 * A check still running from an earlier probe is awaited again rather than started anew: a
 * frozen server then holds one pooled connection, not one more per probe.
 */

export type ReadinessCheck = () => Promise<void>;

export type CheckResult = { ok: true } | { ok: false; error: 'unavailable' };

export type ReadinessReport = { ready: boolean; checks: Record<string, CheckResult> };

/** Runs every check at once; resolves within about `timeoutMs`, whatever the checks do. */
export type Readiness = () => Promise<ReadinessReport>;

/**
 * What a failed check answers: a code, never the error's text. /readyz is public, and a message
 * such as "connect ECONNREFUSED 10.0.3.7:5432" maps the network behind the API; the log has it.
 */
const UNAVAILABLE = 'unavailable';

export class CheckTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'CheckTimeoutError';
  }
}

export function createReadiness(
  checks: Record<string, ReadinessCheck>,
  opts: {
    /** Deadline of each check, in ms (READINESS_TIMEOUT_MS, default 2 s). */
    timeoutMs: number;
    /** Why a check failed: for the log, never for the answer. */
    onFailure: (check: string, err: unknown) => void;
  },
): Readiness {
  const running = new Map<string, Promise<void>>();

  const start = (name: string, check: ReadinessCheck): Promise<void> => {
    let pending = running.get(name);
    if (!pending) {
      pending = Promise.resolve()
        .then(check)
        .finally(() => running.delete(name));
      running.set(name, pending);
    }
    return pending;
  };

  const withDeadline = (pending: Promise<void>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckTimeoutError(opts.timeoutMs)), opts.timeoutMs);
      timer.unref();
    });
    return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
  };

  return async () => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
        try {
          await withDeadline(start(name, check));
          return [name, { ok: true }];
        } catch (err) {
          opts.onFailure(name, err);
          return [name, { ok: false, error: UNAVAILABLE }];
        }
      }),
    );
    return { ready: results.every(([, r]) => r.ok), checks: Object.fromEntries(results) };
  };
}

/**
 * A system's two readiness answers. The API port asks what a request needs (database, queue); the
 * operations listener also asks, where this process enriches, whether the provider's circuit lets
 * calls through.
 */
export function systemReadiness(opts: {
  database: ReadinessCheck;
  queue: ReadinessCheck;
  /** Present where this process enriches. */
  providerCircuit?: () => 'closed' | 'open' | 'half-open';
  timeoutMs: number;
  onFailure: (check: string, err: unknown) => void;
}): { api: Readiness; process: Readiness } {
  const options = { timeoutMs: opts.timeoutMs, onFailure: opts.onFailure };
  const services = { database: opts.database, queue: opts.queue };
  const api = createReadiness(services, options);
  const circuit = opts.providerCircuit;
  if (!circuit) return { api, process: api };
  const provider: ReadinessCheck = async () => {
    if (circuit() === 'open') throw new Error('provider circuit open: calls paused');
  };
  return { api, process: createReadiness({ ...services, provider }, options) };
}
