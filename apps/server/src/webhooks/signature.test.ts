import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newWebhookSecret, signWebhook, verifyWebhook, webhookHeaders } from './signature';

describe('webhook signatures (Standard Webhooks)', () => {
  it('signs <id>.<timestamp>.<body> with the base64 key after whsec_', () => {
    // The example of the Standard Webhooks specification, reproduced independently here.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    const expected = createHmac('sha256', Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'))
      .update(`msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.${body}`)
      .digest('base64');
    expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe(`v1,${expected}`);
    expect(expected).toBe('g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies its own headers, and refuses another body, another secret or an old timestamp', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const now = 1_800_000_000;
    const headers = webhookHeaders(secret, 'evt_1', now, '{"a":1}');
    expect(verifyWebhook(secret, headers, '{"a":1}', now)).toBe(true);
    expect(verifyWebhook(secret, headers, '{"a":2}', now)).toBe(false);
    expect(verifyWebhook(newWebhookSecret(), headers, '{"a":1}', now)).toBe(false);
    expect(verifyWebhook(secret, headers, '{"a":1}', now + 600)).toBe(false);
    expect(
      verifyWebhook(
        secret,
        { ...headers, 'webhook-signature': `v1,bad ${headers['webhook-signature']}` },
        '{"a":1}',
        now,
      ),
    ).toBe(true);
  });
});
