import { ACCESS_TOKEN_PARAM, bearerToken } from '@app/secrets';

/** The HttpOnly cookie that carries a browser's session token. */
export const SESSION_COOKIE = 'kubescaler_session';

/** Where a token came from. */
export type Transport = 'header' | 'query' | 'cookie';

export interface Credential {
  /** The presented token; `''` when the transport was used but carried nothing. */
  readonly token: string;
  readonly transport: Transport;
}

/** What a request offers: Fastify's request and Node's `IncomingMessage` both fit. */
export interface CredentialSource {
  readonly headers: { readonly authorization?: string; readonly cookie?: string };
  /** The request target (path and query). */
  readonly url?: string;
}

/**
 * The one credential a request presents, by precedence: `Authorization: Bearer`, then the
 * `access_token` query parameter (both explicit), then the `kubescaler_session` cookie (sent by
 * the browser on its own). The first present decides; a bad one is not rescued by the next.
 */
export function extractCredential(source: CredentialSource): Credential | undefined {
  const header = bearerToken(source.headers.authorization);
  if (header !== undefined) return { token: header, transport: 'header' };
  const query = queryToken(source.url);
  if (query !== undefined) return { token: query, transport: 'query' };
  const cookie = cookieValue(source.headers.cookie, SESSION_COOKIE);
  if (cookie !== undefined) return { token: cookie, transport: 'cookie' };
  return undefined;
}

/**
 * The first `access_token` parameter of the query. Its name must be written literally: a name
 * that only decodes to it (`%61ccess_token`) is another parameter, so what logs and messages
 * redact and what authenticates can never disagree. The value is percent-decoded.
 */
function queryToken(url: string | undefined): string | undefined {
  const start = url?.indexOf('?') ?? -1;
  if (start < 0) return undefined;
  for (const pair of url!
    .slice(start + 1)
    .split('#')[0]!
    .split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (name !== ACCESS_TOKEN_PARAM) continue;
    return new URLSearchParams(`v=${eq < 0 ? '' : pair.slice(eq + 1)}`).get('v')!.trim();
  }
  return undefined;
}

/** The value of cookie `name` in a `Cookie` header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}
