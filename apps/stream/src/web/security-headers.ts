import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * The web client's security headers, on every response stream sends through Fastify (its pages,
 * scripts, styles and JSON alike — one rule, nothing to forget; an SSE stream writes its own
 * headers and renders nothing): scripts, styles and connections from this origin
 * only (the client has no inline script or style), never framed (clickjacking), no MIME sniffing,
 * and no Referer sent anywhere (a URL may carry `?access_token=`).
 */
export const WEB_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
});

/** Adds `WEB_SECURITY_HEADERS` to every response `app` sends through Fastify. */
export function addWebSecurityHeaders(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (_request, reply) => {
      for (const [name, value] of Object.entries(WEB_SECURITY_HEADERS)) void reply.header(name, value);
    });
}
