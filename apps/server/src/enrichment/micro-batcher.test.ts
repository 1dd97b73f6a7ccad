import { describe, expect, it } from 'vitest';
import { createMicroBatcher } from './micro-batcher';

function recordingBatcher(opts: {
  maxSize: number;
  windowMs: number;
  fail?: (keys: string[]) => Error | null;
}) {
  const calls: string[][] = [];
  const seenMetas: number[][][] = [];
  const batcher = createMicroBatcher<string, string, number>({
    ...opts,
    async runBatch(keys, metas) {
      calls.push(keys);
      seenMetas.push(metas);
      const err = opts.fail?.(keys);
      if (err) throw err;
      return new Map(keys.map((k) => [k, k.startsWith('bad') ? new Error(`no ${k}`) : k.toUpperCase()]));
    },
  });
  return { batcher, calls, seenMetas };
}

describe('micro-batcher', () => {
  it('sends a full batch at once and the rest after the window', async () => {
    const { batcher, calls } = recordingBatcher({ maxSize: 3, windowMs: 20 });
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((k, i) => batcher.load(k, i)));
    expect(results).toEqual(['A', 'B', 'C', 'D']);
    expect(calls).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('asks once for a key requested twice in the same batch', async () => {
    const { batcher, calls, seenMetas } = recordingBatcher({ maxSize: 50, windowMs: 10 });
    expect(await Promise.all([batcher.load('x', 1), batcher.load('x', 2), batcher.load('y', 3)])).toEqual([
      'X',
      'X',
      'Y',
    ]);
    expect(calls).toEqual([['x', 'y']]);
    // Who asked for each key travels with it, so a shared call can be accounted to each caller.
    expect(seenMetas).toEqual([[[1, 2], [3]]]);
  });

  it('fails only the item the provider failed', async () => {
    const { batcher } = recordingBatcher({ maxSize: 50, windowMs: 5 });
    const [good, bad] = await Promise.allSettled([batcher.load('ok', 1), batcher.load('bad-one', 2)]);
    expect(good).toEqual({ status: 'fulfilled', value: 'OK' });
    expect(bad.status === 'rejected' && (bad.reason as Error).message).toBe('no bad-one');
  });

  it('fails every waiter of a batch whose call failed, and recovers for the next batch', async () => {
    let failNext = true;
    const { batcher, calls } = recordingBatcher({
      maxSize: 50,
      windowMs: 5,
      fail: () => {
        if (!failNext) return null;
        failNext = false;
        return new Error('503');
      },
    });
    const first = await Promise.allSettled([batcher.load('a', 1), batcher.load('b', 2)]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await batcher.load('a', 3)).toBe('A');
    expect(calls).toHaveLength(2);
  });
});
