/**
 * The page talks to /api/v1 on its own origin (the server serves the built page), or to
 * NEXT_PUBLIC_API_BASE_URL when the page is built to run as its own service.
 */
import { ErrorBody } from '@gtm-enrich/contracts';
import { getApiKey, signOut } from './session';

const API_BASE_URL = (process.env.NEXT_PUBLIC_API_BASE_URL ?? '').replace(/\/+$/, '');

/** Any contracts schema: the response is parsed with it, so a drifted API fails loudly here. */
export type Schema<T> = { parse(data: unknown): T };

export type QueryParams = Record<string, string | number | null | undefined>;

/** An absolute or same-origin URL for an API path such as `/api/v1/jobs`. */
export function apiUrl(path: string, params: QueryParams = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const qs = search.toString();
  return `${API_BASE_URL}${path}${qs ? `?${qs}` : ''}`;
}

/** An error the API answered with: `message` is meant to be shown to the user as written. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Turns any non-2xx answer into an ApiError, using the API's error body when it has one. */
export function toApiError(status: number, bodyText: string): ApiError {
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(bodyText));
    if (parsed.success) {
      const { code, message, details } = parsed.data.error;
      return new ApiError(status, code, message, details);
    }
  } catch {
    // Not JSON (a proxy's HTML error page, for instance): fall through to a generic message.
  }
  return new ApiError(status, 'HTTP_ERROR', `The server answered ${status}. Try again in a moment.`);
}

async function request<T>(
  method: 'GET' | 'POST',
  path: string,
  params: QueryParams,
  schema: Schema<T>,
  signal?: AbortSignal,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path, params), { method, signal, headers: authHeaders() });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'NETWORK', 'Could not reach the server. Check that it is running and try again.');
  }
  const text = await res.text();
  if (!res.ok) throw failed(res.status, text);
  return schema.parse(JSON.parse(text));
}

/** Headers of every API request: JSON, and the signed-in key. */
export function authHeaders(key: string | null = getApiKey()): Record<string, string> {
  return key
    ? { accept: 'application/json', authorization: `Bearer ${key}` }
    : { accept: 'application/json' };
}

/** A 401 means the key is no longer good (revoked, say): back to the sign-in view, saying why. */
export function failed(status: number, bodyText: string): ApiError {
  const err = toApiError(status, bodyText);
  if (status === 401 && getApiKey()) signOut(err.message);
  return err;
}

/**
 * Downloads a file the API serves to a key (a link cannot send the Authorization header):
 * fetched with the key, then saved under the name the server gives.
 */
export async function apiDownload(path: string, fallbackName: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { headers: { ...authHeaders(), accept: '*/*' } });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Could not reach the server. Check that it is running and try again.');
  }
  if (!res.ok) throw failed(res.status, await res.text());
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  try {
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

export function apiGet<T>(
  path: string,
  params: QueryParams,
  schema: Schema<T>,
  signal?: AbortSignal,
): Promise<T> {
  return request('GET', path, params, schema, signal);
}

/** POST with a JSON body. */
export function apiPostJson<T>(path: string, body: unknown, schema: Schema<T>): Promise<T> {
  return sendJson('POST', path, body, schema);
}

/** PATCH with a JSON body: changes some fields of a resource. */
export function apiPatchJson<T>(path: string, body: unknown, schema: Schema<T>): Promise<T> {
  return sendJson('PATCH', path, body, schema);
}

async function sendJson<T>(
  method: 'POST' | 'PATCH',
  path: string,
  body: unknown,
  schema: Schema<T>,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      method,
      headers: { ...authHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Could not reach the server. Check that it is running and try again.');
  }
  const text = await res.text();
  if (!res.ok) throw failed(res.status, text);
  return schema.parse(JSON.parse(text));
}

export function apiPost<T>(path: string, params: QueryParams, schema: Schema<T>): Promise<T> {
  return request('POST', path, params, schema);
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return 'Something went wrong while talking to the server. Try again.';
}
