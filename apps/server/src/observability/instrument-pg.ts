/**
 * Database spans without patching the `pg` module: every client the pool opens gets its `query`
 * wrapped (Pool.query goes through a client too). A span is made only inside an existing trace,
 * so health checks and background sweeps do not each start a trace of their own. The statement
 * text is recorded, never its parameters (they hold customer data).
 */
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type pg from 'pg';
import type { Tracing } from './tracing';

const MAX_STATEMENT_CHARS = 500;

type AnyFunction = (...args: unknown[]) => unknown;

function statementOf(arg: unknown): string | null {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && 'text' in arg && typeof arg.text === 'string')
    return arg.text;
  return null;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && 'then' in v && typeof v.then === 'function';
}

function wrapQuery(client: pg.PoolClient, tracer: Tracer): void {
  const original: AnyFunction = client.query;
  const traced: AnyFunction = function (this: unknown, ...args: unknown[]) {
    const statement = statementOf(args[0]);
    // Streams (COPY, cursors) are Submittables: left alone, they report their own progress.
    if (statement === null || trace.getSpan(context.active()) === undefined) {
      return Reflect.apply(original, client, args);
    }
    const operation = statement.trimStart().split(/\s/, 1)[0]?.toLowerCase() || 'query';
    const span = tracer.startSpan(`pg ${operation}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'postgresql',
        'db.operation.name': operation,
        'db.query.text': statement.slice(0, MAX_STATEMENT_CHARS),
      },
    });
    const end = (err: unknown) => {
      if (err) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    };
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
        end(err);
        return Reflect.apply(last, undefined, [err, ...rest]);
      };
      return Reflect.apply(original, client, args);
    }
    const result = Reflect.apply(original, client, args);
    if (isThenable(result)) result.then(() => end(null), end);
    else end(null);
    return result;
  };
  Object.defineProperty(client, 'query', { value: traced, configurable: true, writable: true });
}

export function tracePool(pool: pg.Pool, tracing: Tracing): void {
  if (!tracing.enabled) return;
  pool.on('connect', (client) => wrapQuery(client, tracing.tracer));
}
