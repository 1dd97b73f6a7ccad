/**
 * The page talks to /api/v1 on its own origin (the server serves the built page), or to
 * NEXT_PUBLIC_API_BASE_URL when the page is built to run as its own service.
 */
import { ApiError, createGtmClient, toApiError as toClientApiError } from '@gtm-enrich/client';
import { ErrorBody } from '@gtm-enrich/contracts';
import { getApiKey, signOut } from './session';

const API_BASE_URL = (process.env.NEXT_PUBLIC_API_BASE_URL ?? '').replace(/\/+$/, '');

/** Any contracts schema: the response is parsed with it, so a drifted API fails loudly here. */
export type Schema<T> = { parse(data: unknown): T };

export { ApiError };

/** What a request that never got an answer (server down, network gone) raises. */
export function networkError(what = 'The request'): ApiError {
  return new ApiError(
    0,
    'NETWORK',
    `${what} could not reach the server. Check that it is running and try again.`,
  );
}

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

/**
 * Every call goes through the client generated from the API document (@gtm-enrich/client): its
 * paths, parameters and bodies are checked by the compiler against what the server declares.
 */
export const api = createGtmClient({ baseUrl: API_BASE_URL, apiKey: () => getApiKey() });

/** Turns any non-2xx answer into an ApiError, using the API's error body when it has one. */
export function toApiError(status: number, body: unknown): ApiError {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      // Not JSON (a proxy's HTML error page, for instance): fall through to a generic message.
    }
  }
  const checked = ErrorBody.safeParse(parsed);
  if (checked.success) return toClientApiError(status, checked.data);
  return new ApiError(status, 'HTTP_ERROR', `The server answered ${status}. Try again in a moment.`);
}

/**
 * The answer of a client call, parsed with its contracts schema (a drifted API fails loudly
 * here), or an ApiError a person can read.
 */
export async function call<T>(
  request: Promise<{ data?: unknown; error?: unknown; response: Response }>,
  schema: Schema<T>,
  signal?: AbortSignal,
): Promise<T> {
  let result: Awaited<typeof request>;
  try {
    result = await request;
  } catch (err) {
    if (signal?.aborted) throw err;
    throw networkError();
  }
  if (!result.response.ok) throw failed(result.response.status, result.error);
  return schema.parse(result.data);
}

/** Headers of every API request: JSON, and the signed-in key. */
export function authHeaders(key: string | null = getApiKey()): Record<string, string> {
  return key
    ? { accept: 'application/json', authorization: `Bearer ${key}` }
    : { accept: 'application/json' };
}

/** A 401 means the key is no longer good (revoked, say): back to the sign-in view, saying why. */
export function failed(status: number, body: unknown): ApiError {
  const err = toApiError(status, body);
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
    throw networkError('The download');
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

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return 'Something went wrong while talking to the server. Try again.';
}
