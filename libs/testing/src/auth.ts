import { SESSION_COOKIE, signUserToken, type Transport } from '@app/auth';

/**
 * How a test helper authorizes a request:
 * - `'auto'` (the default): for `/stream/:userId/…` and `/main/login/:userId`, a valid token for
 *   that user from the test run's `AUTH_JWT_SECRET`, as `Authorization: Bearer`; nothing elsewhere,
 *   nor when the request already carries an `Authorization` header or a session cookie;
 * - `'none'`: no credential at all;
 * - `{ userId?, token?, via? }`: `token` as given (or one minted for `userId`, else for the path's
 *   user), sent the way `via` says (default `header`).
 */
export type AuthOption =
  'auto' | 'none' | { readonly userId?: string; readonly token?: string; readonly via?: Transport };

/** The test run's user-token secret (`npm test` generates one and hands it to every app it starts). */
export function testAuthSecret(): string | undefined {
  return process.env.AUTH_JWT_SECRET || undefined;
}

export interface MintOptions {
  /** Default: the test run's secret. */
  readonly secret?: string;
  /** Default 2 h. */
  readonly ttlSeconds?: number;
  readonly issuer?: string;
  readonly audience?: string;
  /** Issue as if at this time (for expired tokens). */
  readonly now?: Date;
}

const DEFAULT_TTL_SECONDS = 2 * 60 * 60;
/** Cached default tokens are replaced when less than this is left. */
const RENEW_BEFORE_MS = 10 * 60 * 1000;
const cache = new Map<string, { token: string; expiresAt: number }>();

/** A valid HS256 user token (`sub` = `userId`); default tokens are cached per user. */
export async function mintUserToken(userId: string, options: MintOptions = {}): Promise<string> {
  const secret = options.secret ?? testAuthSecret();
  if (!secret) throw new Error('no AUTH_JWT_SECRET to mint user tokens with: run the suite with `npm test`');
  const isDefault = Object.keys(options).length === 0;
  const cached = isDefault ? cache.get(userId) : undefined;
  if (cached && cached.expiresAt - Date.now() > RENEW_BEFORE_MS) return cached.token;
  const { token, expiresAt } = await signUserToken(secret, userId, {
    ttlSeconds: options.ttlSeconds ?? DEFAULT_TTL_SECONDS,
    issuer: options.issuer,
    audience: options.audience,
    now: options.now,
  });
  if (isDefault) cache.set(userId, { token, expiresAt: expiresAt.getTime() });
  return token;
}

/** The user a path belongs to, for `'auto'`: `/stream/:userId/:profileId` and `/main/login/:userId`. */
export function pathUser(path: string): string | undefined {
  const match = /^\/(?:stream\/([^/?#]+)\/[^/?#]+|main\/login\/([^/?#]+))(?:[?#]|$)/.exec(path);
  return match ? decodeURIComponent(match[1] ?? match[2]!) : undefined;
}

/**
 * The request path and extra headers that carry `auth` for `path`. `headers` are the request's
 * own (names in any case): an explicit `Authorization` or session cookie switches `'auto'` off.
 */
export async function withAuth(
  path: string,
  headers: Readonly<Record<string, string>>,
  auth: AuthOption = 'auto',
): Promise<{ path: string; headers: Record<string, string> }> {
  if (auth === 'none') return { path, headers: {} };
  if (auth === 'auto') {
    const names = Object.keys(headers).map((name) => name.toLowerCase());
    const cookie = Object.entries(headers).find(([name]) => name.toLowerCase() === 'cookie')?.[1] ?? '';
    const userId = pathUser(path);
    if (!userId || !testAuthSecret() || names.includes('authorization') || cookie.includes(`${SESSION_COOKIE}=`)) {
      return { path, headers: {} };
    }
    return { path, headers: { authorization: `Bearer ${await mintUserToken(userId)}` } };
  }
  const userId = auth.userId ?? pathUser(path);
  if (auth.token === undefined && userId === undefined) throw new Error(`no user to mint a token for on ${path}`);
  const token = auth.token ?? (await mintUserToken(userId!));
  switch (auth.via ?? 'header') {
    case 'header':
      return { path, headers: { authorization: `Bearer ${token}` } };
    case 'cookie':
      return { path, headers: { cookie: `${SESSION_COOKIE}=${token}` } };
    case 'query':
      return { path: `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`, headers: {} };
  }
}
