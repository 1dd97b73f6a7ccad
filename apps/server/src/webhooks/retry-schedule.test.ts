import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config';

describe('the default webhook retry schedule', () => {
  it('keeps trying for at least 24 hours, with growing waits', () => {
    const delays = loadConfig({}).WEBHOOK_RETRY_DELAYS_MS;
    const total = delays.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays[0]).toBeLessThanOrEqual(10_000);
  });

  it('refuses a schedule that is not a list of whole milliseconds', () => {
    expect(() => loadConfig({ WEBHOOK_RETRY_DELAYS_MS: '5000,soon' })).toThrow(/WEBHOOK_RETRY_DELAYS_MS/);
    expect(() => loadConfig({ OUTBOUND_ALLOWED_CIDRS: '10.0.0.0/33' })).toThrow(/OUTBOUND_ALLOWED_CIDRS/);
    expect(loadConfig({ OUTBOUND_ALLOWED_CIDRS: '127.0.0.1/32, fd00::/8' }).OUTBOUND_ALLOWED_CIDRS).toEqual([
      '127.0.0.1/32',
      'fd00::/8',
    ]);
  });
});
