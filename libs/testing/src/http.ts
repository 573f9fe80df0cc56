export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  /** Milliseconds from request to full body. */
  elapsedMs: number;
}

/** A small JSON HTTP client for tests: never throws on a status, parses JSON bodies when present. */
export async function request<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
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
