import type { ServerResponse } from 'node:http';

/**
 * The name of the listener Fastify puts on a response's `finish` and `error` events to run its
 * `onResponse` hooks (`setupResponseListeners` in fastify/lib/reply.js); it holds Fastify's
 * request and reply, and through them Nest's, for as long as the response lives.
 */
const FASTIFY_RESPONSE_LISTENER = 'onResFinished';

/**
 * Lets a hijacked streaming response drop what the framework keeps for its end: Fastify's
 * `finish`/`error` listener (and with it Fastify's request and reply objects) would stay for the
 * whole life of the stream, about 2 KB per stream, only to time a "request" that is the stream
 * itself. Node's own listeners stay. Returns how many listeners were removed.
 */
export function releaseFrameworkListeners(response: ServerResponse): number {
  let removed = 0;
  for (const event of ['finish', 'error'] as const) {
    for (const listener of response.listeners(event)) {
      if ((listener as { name?: string }).name === FASTIFY_RESPONSE_LISTENER) {
        response.removeListener(event, listener as (...args: unknown[]) => void);
        removed++;
      }
    }
  }
  return removed;
}
