import { AppError, type ErrorCode } from '@app/errors';
import { encodeEvent } from '../sse/index.js';

/**
 * Refusals that retrying can fix, which a standard EventSource may meet: the pair live on
 * another connection, the user at the cap, a pod that drains or is full, a dependency down.
 */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  'PROFILE_IN_USE',
  'TOO_MANY_STREAMS',
  'DRAINING',
  'POD_FULL',
  'DEPENDENCY_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
  'RATE_LIMITED',
]);

/** How long a refused standard client waits before it asks again, unless the refusal says (`Retry-After`). */
const IN_USE_RETRY_MS = 2000;

/**
 * Whether the client reads refusals as HTTP statuses with a JSON body: it accepts JSON
 * (`application/json`, `application/*`, `*\/*`) or says nothing. A standard EventSource sends
 * `Accept: text/event-stream` only, and any non-200 answer would end it for good.
 */
export function acceptsJsonRefusals(accept: string | string[] | undefined): boolean {
  if (accept === undefined) return true;
  const ranges = (Array.isArray(accept) ? accept.join(',') : accept).split(',');
  return ranges.some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((param) => param.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) return false;
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}

/** The refusal as a standard client must get it, or undefined when it is final (or not ours): then the JSON answer. */
export function streamRefusal(error: unknown, random = Math.random): { retryMs: number; body: Buffer } | undefined {
  if (!(error instanceof AppError) || !RETRYABLE.has(error.code)) return undefined;
  const base = error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : IN_USE_RETRY_MS;
  // Spread the retries of many refused clients over half the wait again.
  const retryMs = Math.round(base * (1 + random() / 2));
  const body = Buffer.concat([
    encodeEvent({ retry: retryMs }),
    encodeEvent({ event: 'refused', data: JSON.stringify({ ...error.toBody(), retryMs }) }),
  ]);
  return { retryMs, body };
}
