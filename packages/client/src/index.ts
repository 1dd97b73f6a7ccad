/**
 * A typed client for the GTM Enrich API: paths, parameters, bodies and answers come from the
 * API document (src/schema.ts is generated from it by `npm run client:generate`), the calls from
 * openapi-fetch (a thin wrapper over fetch; no code generated per operation).
 *
 *   const api = createGtmClient({ baseUrl: 'http://localhost:3000', apiKey: process.env.GTM_API_KEY });
 *   const job = unwrap(await api.GET('/api/v1/jobs/{jobId}', { params: { path: { jobId } } }));
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from './schema';

export type { components, operations, paths };

type Schemas = components['schemas'];
export type Job = Schemas['Job'];
export type JobList = Schemas['JobList'];
export type JobStatus = Schemas['JobStatus'];
export type Company = Schemas['Company'];
export type CompanyList = Schemas['CompanyList'];
export type ErrorBody = Schemas['ErrorBody'];
export type Me = Schemas['Me'];

export type GtmClient = Client<paths>;

export type GtmClientOptions = {
  /** The server's origin, e.g. `http://localhost:3000`; '' = the page's own origin (browsers). */
  baseUrl: string;
  /** The API key, or a function asked before every request (a key that may change or be signed out). */
  apiKey?: string | null | (() => string | null | undefined);
  /** Another fetch (tests, proxies); default: the global one. */
  fetch?: typeof globalThis.fetch;
  /** Headers sent with every request (a User-Agent, say). */
  headers?: Record<string, string>;
};

export function createGtmClient(opts: GtmClientOptions): GtmClient {
  const client = createClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    fetch: opts.fetch,
    headers: opts.headers,
  });
  client.use({
    onRequest({ request }) {
      const key = typeof opts.apiKey === 'function' ? opts.apiKey() : opts.apiKey;
      if (key) request.headers.set('authorization', `Bearer ${key}`);
      return request;
    },
  });
  return client;
}

/** An error the API answered with (or could not be reached: status 0); `message` is written for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string';
}

/** The API's error from a status and the body it came with (a proxy's HTML page gets a generic one). */
export function toApiError(status: number, body: unknown): ApiError {
  if (isErrorBody(body)) {
    const { code, message, details, request_id } = body.error;
    return new ApiError(status, code, message, details, request_id);
  }
  return new ApiError(status, 'HTTP_ERROR', `The server answered ${status}.`);
}

/** The data of a successful answer, or the ApiError of a failed one. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw toApiError(result.response.status, result.error);
}
