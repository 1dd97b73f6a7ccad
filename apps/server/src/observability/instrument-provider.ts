/**
 * Spans and metrics for provider calls. A bulk call serves up to 50 companies from as many tasks;
 * its span is a child of the task that opened the batch (the active one when the call starts),
 * which is what ties a company's trace to the HTTP call that served it.
 */
import { SpanKind, trace } from '@opentelemetry/api';
import { type EnrichmentProvider, traitsOf } from '../providers/provider';
import type { RateLimiter } from '../providers/rate-limit/rate-limiter';
import type { Metrics, ProviderCallInfo } from './metrics';
import { inSpan, type Tracing } from './tracing';

export function traceProvider(provider: EnrichmentProvider, tracing: Tracing): EnrichmentProvider {
  if (!tracing.enabled) return provider;
  const span = <T>(endpoint: string, items: number, fn: () => Promise<T>) =>
    inSpan(
      tracing.tracer,
      `provider ${endpoint}`,
      { kind: SpanKind.CLIENT, attributes: { 'gtm.provider': provider.name, 'gtm.provider.items': items } },
      fn,
    );
  return {
    ...traitsOf(provider),
    matchBusinesses: (domains, call) =>
      span('match', domains.length, () => provider.matchBusinesses(domains, call)),
    enrichFirmographics: (ids, call) =>
      span('bulk_enrich', ids.length, () => provider.enrichFirmographics(ids, call)),
  };
}

/** A provider client's onCall hook: metrics, and the HTTP outcome on the active provider span. */
export function observeProviderCalls(providerName: string, metrics: Metrics) {
  return (call: ProviderCallInfo): void => {
    metrics.providerCall(providerName, call);
    trace.getActiveSpan()?.setAttributes({
      'http.request.method': 'POST',
      ...(call.status === null ? {} : { 'http.response.status_code': call.status }),
      ...(call.correlationId ? { 'gtm.provider.correlation_id': call.correlationId } : {}),
      ...(call.rateLimit?.remaining != null
        ? { 'gtm.provider.rate_limit_remaining': call.rateLimit.remaining }
        : {}),
    });
  };
}

/** Times every wait for the shared rate limit, as a metric and as an event on the active span. */
export function observeRateLimiter(
  limiter: RateLimiter,
  providerName: string,
  metrics: Metrics,
): RateLimiter {
  return {
    async acquire(units, signal) {
      const startedAt = performance.now();
      await limiter.acquire(units, signal);
      const waitedMs = performance.now() - startedAt;
      metrics.rateLimitWait(providerName, waitedMs);
      if (waitedMs >= 1)
        trace.getActiveSpan()?.addEvent('rate limit wait', { 'gtm.wait_ms': Math.round(waitedMs) });
    },
    pauseFor: (ms) => limiter.pauseFor(ms),
    waiting: () => limiter.waiting(),
  };
}
