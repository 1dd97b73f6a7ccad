/**
 * The feeding loop: one feeder at a time among processes sharing a database, a sweep when a
 * process becomes the feeder (at start or on taking the role over), top-ups in between.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import { createRoleLease } from '../src/db/role-lease';
import { createDispatchLoop, type DispatchLoop } from '../src/dispatch/dispatch-loop';
import { openMigratedTestDatabase } from './test-database';

type Calls = { resumed: number; swept: number; toppedUp: number };

function recordingWork(calls: Calls) {
  return {
    resumeUnreadUploads: async () => {
      calls.resumed++;
      return 0;
    },
    sweep: async () => {
      calls.swept++;
      return 0;
    },
    topUp: async () => {
      calls.toppedUp++;
    },
  };
}

const FEED_MS = 20;
const SWEEP_MS = 200;
const LEASE_MS = 300;

describe('dispatch loop', () => {
  let handle: { database: DatabaseHandle; close(): Promise<void> };
  const loops: DispatchLoop[] = [];

  beforeAll(async () => {
    handle = await openMigratedTestDatabase('acme');
  });
  afterAll(async () => {
    for (const loop of loops) await loop.stop();
    await handle.close();
  });

  function start(lease: 'shared' | 'none', calls: Calls): DispatchLoop {
    const loop = createDispatchLoop({
      work: recordingWork(calls),
      lease:
        lease === 'none'
          ? null
          : createRoleLease({
              db: handle.database.db,
              role: 'feeder',
              holder: randomUUID(),
              ttlMs: LEASE_MS,
            }),
      logger: pino({ level: 'silent' }),
      feedIntervalMs: FEED_MS,
      sweepIntervalMs: SWEEP_MS,
    });
    loops.push(loop);
    return loop;
  }

  it('without a lease (one process) sweeps at start, then tops up and sweeps on their timers', async () => {
    const calls: Calls = { resumed: 0, swept: 0, toppedUp: 0 };
    const loop = start('none', calls);
    await loop.start();
    expect(calls).toEqual({ resumed: 1, swept: 1, toppedUp: 0 });
    await expect.poll(() => calls.toppedUp).toBeGreaterThan(3);
    await expect.poll(() => calls.swept).toBeGreaterThan(1);
    await loop.stop();
    const after = { ...calls };
    await new Promise((r) => setTimeout(r, FEED_MS * 5));
    expect(calls).toEqual(after);
  });

  it('with two processes, only the lease holder feeds; the other takes over with a sweep when it stops', async () => {
    const a: Calls = { resumed: 0, swept: 0, toppedUp: 0 };
    const b: Calls = { resumed: 0, swept: 0, toppedUp: 0 };
    const first = start('shared', a);
    await first.start();
    const second = start('shared', b);
    await second.start();
    expect(a.swept).toBe(1);
    await expect.poll(() => a.toppedUp).toBeGreaterThan(3);
    expect(b).toEqual({ resumed: 0, swept: 0, toppedUp: 0 });

    // Stopping gives the role up at once: the other process starts feeding with a sweep.
    await first.stop();
    await expect.poll(() => b.toppedUp).toBeGreaterThan(0);
    expect(b.swept).toBeGreaterThanOrEqual(1);
    expect(b.resumed).toBe(b.swept);
    const aAfter = { ...a };
    await new Promise((r) => setTimeout(r, FEED_MS * 5));
    expect(a).toEqual(aAfter);
    await second.stop();
  });

  it('a feeder that stops renewing (frozen, cut off) is replaced after the lease runs out', async () => {
    const other: Calls = { resumed: 0, swept: 0, toppedUp: 0 };
    const holder = randomUUID();
    // The frozen feeder's row, as a process that died without releasing it leaves it.
    const lease = createRoleLease({ db: handle.database.db, role: 'feeder', holder, ttlMs: LEASE_MS });
    expect(await lease.held()).toBe(true);
    const taker = start('shared', other);
    await taker.start();
    expect(other.swept).toBe(0);
    await expect.poll(() => other.swept, { timeout: LEASE_MS * 10 }).toBeGreaterThanOrEqual(1);
    await expect.poll(() => other.toppedUp).toBeGreaterThan(0);
    await taker.stop();
  });
});
