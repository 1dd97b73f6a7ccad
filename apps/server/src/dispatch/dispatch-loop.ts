/**
 * The worker's feeding loop. The database repairs the queue: at start, and then every
 * `sweepIntervalMs`, whatever it says is unfinished (an upload not yet read, a company queued or
 * held under a lapsed lease) gets a task again; in between, every `feedIntervalMs`, the queue is
 * topped up as it drains, never deeper than the dispatcher allows.
 *
 * Only the holder of the feeder lease does either (one feeder: ADR 0004, 0005). A process that
 * takes the role over starts with a sweep, as at start, because the previous feeder's cursors
 * went with it.
 */
import type { Logger } from 'pino';
import type { DispatchLease } from '../infrastructure';

export type DispatchWork = {
  /** Gives unread stored uploads a task again; answers how many. */
  resumeUnreadUploads(): Promise<number>;
  /** Gives every unfinished company without a live task one; answers how many tasks were sent. */
  sweep(): Promise<number>;
  /** Adds the next companies as the queue drains. */
  topUp(): Promise<unknown>;
};

export type DispatchLoop = {
  /** Sweeps once when this process feeds, then keeps feeding on timers. */
  start(): Promise<void>;
  /** Stops feeding and gives the role up at once, so another process need not wait for its expiry. */
  stop(): Promise<void>;
};

export function createDispatchLoop(opts: {
  work: DispatchWork;
  lease: DispatchLease;
  logger: Logger;
  feedIntervalMs: number;
  sweepIntervalMs: number;
}): DispatchLoop {
  const { work, lease, logger } = opts;
  const timers: NodeJS.Timeout[] = [];
  let feeding = false;

  // 'started': this process has just become the feeder (or is starting); 'feeding': it was already.
  async function role(): Promise<'started' | 'feeding' | 'not'> {
    const was = feeding;
    feeding = lease ? await lease.held() : true;
    return !feeding ? 'not' : was ? 'feeding' : 'started';
  }

  async function sweep(): Promise<void> {
    const uploads = await work.resumeUnreadUploads();
    if (uploads > 0) logger.info({ uploads }, 'resumed reading stored uploads found in the database');
    const sent = await work.sweep();
    if (sent > 0) logger.info({ tasks: sent }, 'dispatched unfinished companies found in the database');
  }

  function every(ms: number, tick: () => Promise<void>, failure: string): void {
    const timer = setInterval(() => {
      tick().catch((err: unknown) => logger.warn({ err }, failure));
    }, ms);
    timer.unref();
    timers.push(timer);
  }

  return {
    async start() {
      if ((await role()) !== 'not') await sweep();
      every(
        opts.sweepIntervalMs,
        async () => {
          if ((await role()) !== 'not') await sweep();
        },
        'sweep failed; the next one retries',
      );
      every(
        opts.feedIntervalMs,
        async () => {
          const now = await role();
          if (now === 'started') await sweep();
          else if (now === 'feeding') await work.topUp();
        },
        'top-up failed; the next one retries',
      );
    },
    async stop() {
      for (const timer of timers) clearInterval(timer);
      timers.length = 0;
      await lease?.release();
    },
  };
}
