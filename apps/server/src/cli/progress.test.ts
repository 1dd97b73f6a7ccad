import type { Job } from '@gtm-enrich/client';
import { describe, expect, it } from 'vitest';
import { formatSeconds, progressOf, renderProgress } from './progress';

const job = (done: number, total = 1000): Job =>
  ({
    total,
    status: 'running',
    counts: { queued: total - done, processing: 0, enriched: done, not_found: 0, failed: 0, cancelled: 0 },
    usage: { credits: done, provider_calls: 0, records_billed: 0, cache_hits: 0 },
  }) as Job;

describe('CLI progress', () => {
  it('draws a bar with the share done, the pace and the time left, within the terminal width', () => {
    const samples: Parameters<typeof progressOf>[1] = [];
    progressOf(job(100), samples, 0);
    const p = progressOf(job(300), samples, 10_000);
    expect(p).toMatchObject({ done: 300, percent: 30, perSecond: 20, etaSeconds: 35 });
    const line = renderProgress(job(300), p, 80);
    expect(line).toMatch(/^\[(#+)(\.+)\] 30% 300\/1000 · 20\/s · ETA 35s · 300 credits · running$/);
    const [, filled, empty] = /^\[(#+)(\.+)\]/.exec(line)!;
    expect(Math.round((filled!.length / (filled!.length + empty!.length)) * 10)).toBe(3);
    expect(line.length).toBeLessThanOrEqual(80);
    expect(renderProgress(job(300), p, 60).length).toBeLessThanOrEqual(60);
  });

  it('has no ETA before the first companies finish, and follows the recent pace only', () => {
    const samples: Parameters<typeof progressOf>[1] = [];
    expect(progressOf(job(0), samples, 0).etaSeconds).toBeNull();
    progressOf(job(10), samples, 1_000);
    // A minute later the first samples are out of the window: the pace is the last 30 s.
    progressOf(job(100), samples, 60_000);
    const p = progressOf(job(400), samples, 80_000);
    expect(p.perSecond).toBe(15);
    expect(formatSeconds(4000)).toBe('1h06m');
    expect(formatSeconds(75)).toBe('1m15s');
  });
});
