import { isServiceUrl, testInternalToken } from './app-process.js';
import { type AuthOption, withAuth } from './auth.js';

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  /** Milliseconds from request to full body. */
  elapsedMs: number;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /**
   * Default `'auto'`: a user's own path (`/main/login/:u`, `/stream/:u/:p`) carries that user's
   * token, and a request to a base the test started carries the internal service credential
   * (unless it sets its own `Authorization`).
   */
  auth?: AuthOption;
}

/** A small JSON HTTP client for tests: never throws on a status, parses JSON bodies when present. */
export async function request<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<JsonResponse<T>> {
  const authorized = await withAuth(path, options.headers ?? {}, options.auth);
  const headers: Record<string, string> = { ...options.headers, ...authorized.headers };
  const internal = testInternalToken();
  const hasAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
  if ((options.auth ?? 'auto') === 'auto' && internal && !hasAuthorization && isServiceUrl(baseUrl)) {
    headers.authorization = `Bearer ${internal}`;
  }
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const started = performance.now();
  const response = await fetch(`${baseUrl}${authorized.path}`, { method, headers, body });
  const text = await response.text();
  const elapsedMs = performance.now() - started;
  const isJson = response.headers.get('content-type')?.includes('json') ?? false;
  return {
    status: response.status,
    headers: response.headers,
    body: isJson && text ? JSON.parse(text) : text,
    elapsedMs,
  };
}
