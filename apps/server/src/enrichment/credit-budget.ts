/**
 * Credits are reserved before a bulk-enrich call, not counted after it: a job never bills more
 * than its max_credits, however many workers call the provider for it at once.
 *
 * Before each call the provider batcher reserves, per job, one credit per item it is about to
 * send (the most the call can bill: one per record returned with data) and cuts the batch to what
 * was granted. The call's ledger row deletes the reservation in the statement that records the
 * credits really billed; a call that never reached the provider gives it back. Reservations are
 * rows with an expiry (not a counter in memory or Redis), because the process that holds one may
 * die between reserving and recording: its rows then lapse within one expiry and the next
 * reservation for the job deletes them. While a call waits for the rate limit and runs, the worker
 * renews its reservations, so a slow call or a long rate-limit wait never loses its hold.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/database';
import {
  CREDIT_LIMIT_MESSAGE,
  CREDIT_LIMIT_REACHED,
  type CreditGrant,
  type CreditRequest,
  releaseCredits,
  renewCredits,
  reserveCredits,
} from './ledger.repository';

/** How long a reservation lives without being renewed (a dead worker's hold ends within this). */
export const CREDIT_RESERVATION_TTL_MS = 60_000;
/** How often a worker renews the reservations of its calls in flight. */
export const CREDIT_RESERVATION_RENEW_MS = 15_000;

/**
 * A company's job has no credit left under its max_credits: the company was not sent to the
 * provider. The job should pause (code CREDIT_LIMIT_REACHED) and the company go back to the queue
 * without spending an attempt; raising or removing the limit and resuming goes on from there.
 */
export class CreditBudgetExhausted extends Error {
  readonly code = CREDIT_LIMIT_REACHED;
  readonly jobId: string;

  constructor(jobId: string) {
    super(CREDIT_LIMIT_MESSAGE);
    this.name = 'CreditBudgetExhausted';
    this.jobId = jobId;
  }
}

export function isCreditBudgetExhausted(err: unknown): err is CreditBudgetExhausted {
  return err instanceof CreditBudgetExhausted;
}

/**
 * The job's credits left are held by its other calls in flight, which may bill less than they
 * hold: the item waits for them to settle and asks again (provider-batcher.ts), instead of pausing
 * a job that may still have credits.
 */
export class CreditBudgetHeld extends Error {
  constructor(readonly jobId: string) {
    super(`The credits left to job ${jobId} are held by its calls in flight; asking again once they settle.`);
    this.name = 'CreditBudgetHeld';
  }
}

export type CreditBudget = {
  /** Holds up to `credits` per job (see ledger.repository.ts: reserveCredits), renewed until settled. */
  reserve(requests: readonly CreditRequest[]): Promise<CreditGrant[]>;
  /** The call never reached the provider: the credits go back at once. */
  release(reservationIds: readonly string[]): Promise<void>;
  /** The call's ledger row settled these (or the write gave up): stop renewing them. */
  settled(reservationIds: readonly string[]): void;
};

export function createCreditBudget(opts: {
  db: Db;
  ttlMs?: number;
  renewEveryMs?: number;
  onError?: (err: unknown, what: 'renew' | 'release') => void;
}): CreditBudget {
  const ttlMs = opts.ttlMs ?? CREDIT_RESERVATION_TTL_MS;
  const renewEveryMs = opts.renewEveryMs ?? CREDIT_RESERVATION_RENEW_MS;
  const live = new Set<string>();
  let timer: NodeJS.Timeout | null = null;

  function renewLoop(): void {
    if (timer || live.size === 0) return;
    timer = setInterval(() => {
      if (live.size === 0) {
        if (timer) clearInterval(timer);
        timer = null;
        return;
      }
      renewCredits(opts.db, [...live], ttlMs).catch((err: unknown) => opts.onError?.(err, 'renew'));
    }, renewEveryMs);
    // Renewal alone must not keep a stopping process alive.
    timer.unref();
  }

  return {
    async reserve(requests) {
      const grants = await reserveCredits(opts.db, requests, { ttlMs, newId: randomUUID });
      for (const g of grants) if (g.reservationId) live.add(g.reservationId);
      renewLoop();
      return grants;
    },
    async release(ids) {
      for (const id of ids) live.delete(id);
      try {
        await releaseCredits(opts.db, ids);
      } catch (err) {
        // Not renewed any more: the rows lapse within one expiry.
        opts.onError?.(err, 'release');
      }
    },
    settled(ids) {
      for (const id of ids) live.delete(id);
    },
  };
}
