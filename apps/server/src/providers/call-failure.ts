/**
 * What a provider client needs to say about a call that failed on the way: the error for a call
 * that got no answer (and whether the request may have reached the provider, so counts toward its
 * limit and bill), why it failed, and a short printable piece of a body. Shared by the clients.
 */

import { ProviderError } from './provider';

// Failures that happen before a byte of the request is sent: the provider never saw the call.
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ERR_INVALID_URL',
]);

const MAX_BODY_SNIPPET_CHARS = 120;

function errorCode(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error && 'code' in cause && typeof cause.code === 'string' ? cause.code : '';
}

/**
 * Whether a call that got no status may still have reached the provider. Connecting failed (or
 * TLS refused the certificate): no. Anything else (a reset, a timeout) may have come after the
 * request was sent and billed, so it counts: a ledger may then hold a call the provider did not
 * count, never the reverse.
 */
export function mayHaveReached(err: unknown): boolean {
  const code = errorCode(err);
  if (NOT_SENT_CODES.has(code)) return false;
  return !(code.startsWith('ERR_TLS_') || code.startsWith('CERT_') || code.includes('SELF_SIGNED'));
}

export function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = 'code' in cause && typeof cause.code === 'string' ? `${cause.code} ` : '';
    return `${code}${cause.message}`.trim();
  }
  return err.message;
}

export function bodySnippet(text: string): string {
  const collapsed = text.replace(/\s+/g, ' ').trim();
  if (collapsed === '') return '(empty body)';
  return collapsed.length > MAX_BODY_SNIPPET_CHARS
    ? `${collapsed.slice(0, MAX_BODY_SNIPPET_CHARS)}…`
    : collapsed;
}

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    const value: unknown = JSON.parse(text);
    return { ok: true, value };
  } catch {
    return { ok: false };
  }
}

/**
 * The error for a call that got no answer: the caller's own cancellation rethrows its reason (not
 * a provider failure); a timeout or a network failure is `transient`, and says whether the request
 * may have reached the provider.
 */
export function noAnswerError(
  err: unknown,
  call: {
    label: string;
    endpoint: string;
    baseUrl: string;
    /** What to check when the provider cannot be reached, e.g. "the provider base URL". */
    checkHint: string;
    timeoutMs: number;
    /** Set when the headers came but the body did not. */
    status: number | null;
    signal: AbortSignal | undefined;
    timeout: AbortSignal;
  },
): unknown {
  if (call.signal?.aborted) return call.signal.reason;
  const { status, endpoint } = call;
  if (call.timeout.aborted) {
    return new ProviderError(
      'transient',
      `${call.label} did not answer ${endpoint} within ${call.timeoutMs} ms; retry later`,
      { status, endpoint, cause: err },
    );
  }
  return new ProviderError(
    'transient',
    `Could not reach ${call.label} at ${call.baseUrl} (${describeCause(err)}): check the network and ${call.checkHint}`,
    { status, endpoint, cause: err, reachedProvider: status !== null || mayHaveReached(err) },
  );
}

/** `Retry-After` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfterHeader(value: string | null, nowMs: number): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
