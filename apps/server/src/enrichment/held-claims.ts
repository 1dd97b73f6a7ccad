/**
 * The companies this worker process holds (claimed, not yet written back), and their leases.
 *
 * A claim's lease lives as long as its worker does: this process renews the leases of what it
 * holds every `renewIntervalMs`, so a killed worker's companies are taken over one lease after its
 * last renewal, while a slow one (a long rate-limit wait) keeps them. A process that was frozen or
 * cut off from the database may have lost its claims meanwhile: before any provider call it makes
 * sure its leases are fresh, and drops from the call every item no company it still holds wants,
 * so a company taken over elsewhere is not paid for twice.
 */
import type { Db } from '../db/database';
import { renewLeases } from './company-state.repository';
import type { DatabaseGate } from './database-gate';

export type HeldClaim = {
  id: string;
  orgId: string;
  jobId: string;
  domain: string;
  /** Known once matched (or from an earlier attempt). */
  businessId: string | null;
  /** Taken over elsewhere: nothing more is spent or written for it here. */
  lost: boolean;
  /**
   * Its outcome is being written. A renewal that no longer finds it processing has most likely
   * raced that write's commit, so it is not reported lost (the write is conditional either way).
   */
  settling: boolean;
  /** performance.now() when the lease was last known to run (claimed or renewed). */
  confirmedAt: number;
};

export type HeldClaims = {
  add(claim: Omit<HeldClaim, 'lost' | 'settling' | 'confirmedAt'>): HeldClaim;
  remove(id: string): void;
  get(id: string): HeldClaim | undefined;
  /** Every held claim (shutdown releases them). */
  all(): HeldClaim[];
  /**
   * Of `keys` (domains for a match call, business ids for an enrich call), those a held company
   * still wants. Waits while the database is unreachable, and renews stale leases first.
   */
  stillWanted(kind: 'match' | 'enrich', keys: readonly string[]): Promise<Set<string>>;
  /** Starts the renewal timer. */
  start(): void;
  stop(): void;
};

export function createHeldClaims(opts: {
  db: Db;
  gate: DatabaseGate;
  token: string;
  leaseMs: number;
  renewIntervalMs: number;
  onLost?: (claim: HeldClaim) => void;
  /** A renewal failed for a reason other than the database being unreachable (those are waited out). */
  onRenewFailed?: (err: unknown) => void;
}): HeldClaims {
  const held = new Map<string, HeldClaim>();
  let timer: NodeJS.Timeout | null = null;
  let renewing: Promise<void> | null = null;
  // A lease not confirmed for this long may have run out (a renewal is overdue): check first.
  const staleAfterMs = Math.max(opts.leaseMs - opts.renewIntervalMs, opts.renewIntervalMs);

  function renew(): Promise<void> {
    renewing ??= (async () => {
      const claims = [...held.values()].filter((c) => !c.lost);
      if (claims.length === 0) return;
      const startedAt = performance.now();
      const kept = await opts.gate.retryUntilWritten(() =>
        renewLeases(
          opts.db,
          { token: opts.token, leaseMs: opts.leaseMs },
          claims.map((c) => c.id),
        ),
      );
      for (const c of claims) {
        if (kept.has(c.id)) c.confirmedAt = startedAt;
        else if (!c.lost && !c.settling) {
          c.lost = true;
          opts.onLost?.(c);
        }
      }
    })().finally(() => {
      renewing = null;
    });
    return renewing;
  }

  return {
    add(claim) {
      const entry: HeldClaim = { ...claim, lost: false, settling: false, confirmedAt: performance.now() };
      held.set(claim.id, entry);
      return entry;
    },
    remove: (id) => held.delete(id),
    get: (id) => held.get(id),
    all: () => [...held.values()],
    async stillWanted(kind, keys) {
      await opts.gate.ready();
      const wanted = new Set(keys);
      const key = (c: HeldClaim) => (kind === 'match' ? c.domain : c.businessId);
      const asking = () => [...held.values()].filter((c) => !c.lost && wanted.has(key(c) ?? ''));
      const now = performance.now();
      if (asking().some((c) => now - c.confirmedAt > staleAfterMs)) await renew();
      return new Set(asking().map((c) => key(c)!));
    },
    start() {
      timer ??= setInterval(() => {
        renew().catch((err: unknown) => opts.onRenewFailed?.(err));
      }, opts.renewIntervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
