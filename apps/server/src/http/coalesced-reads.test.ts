import { describe, expect, it } from 'vitest';
import { createReadCoalescer } from './coalesced-reads';

/** A read whose answer is the value of `state` when it starts, and that ends when told to. */
function controlledReads() {
  const state = { value: 0 };
  const pending: (() => void)[] = [];
  let started = 0;
  const read = () => {
    started++;
    const seen = state.value;
    return new Promise<number>((resolve) => pending.push(() => resolve(seen)));
  };
  const finishNext = async () => {
    pending.shift()?.();
    // Let the coalescer start the queued read.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { state, read, finishNext, started: () => started };
}

describe('createReadCoalescer', () => {
  it('gives a caller who asks while a read is in flight the next read, never the one in flight', async () => {
    const coalesce = createReadCoalescer();
    const r = controlledReads();
    const first = coalesce('job', r.read);
    // A write commits, then two polls ask: the read in flight started before the write.
    r.state.value = 1;
    const second = coalesce('job', r.read);
    const third = coalesce('job', r.read);
    expect(r.started()).toBe(1);
    await r.finishNext();
    expect(await first).toBe(0);
    expect(r.started()).toBe(2);
    await r.finishNext();
    expect(await second).toBe(1);
    expect(await third).toBe(1);
    expect(r.started()).toBe(2);
  });

  it('reads again for a caller who asks once the reads have ended, and keeps keys apart', async () => {
    const coalesce = createReadCoalescer();
    const r = controlledReads();
    const a = coalesce('job a', r.read);
    const b = coalesce('job b', r.read);
    expect(r.started()).toBe(2);
    await r.finishNext();
    await r.finishNext();
    expect([await a, await b]).toEqual([0, 0]);
    r.state.value = 2;
    const later = coalesce('job a', r.read);
    expect(r.started()).toBe(3);
    await r.finishNext();
    expect(await later).toBe(2);
  });

  it('fails the callers of a read that fails, and reads afresh after it', async () => {
    const coalesce = createReadCoalescer();
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('database down'));
    };
    await expect(coalesce('job', failing)).rejects.toThrow('database down');
    await expect(coalesce('job', async () => 'back')).resolves.toBe('back');
    expect(calls).toBe(1);
  });
});
