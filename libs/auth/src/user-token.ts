import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { SESSION_COOKIE } from './credentials.js';

export interface UserTokenOptions {
  /** Lifetime from `now`. */
  readonly ttlSeconds: number;
  readonly issuer?: string;
  readonly audience?: string | readonly string[];
  /** Where the verifier reads the user id (`AUTH_USER_CLAIM`); it is in `sub` as well. Default `sub`. */
  readonly userClaim?: string;
  /** Default: the current time. */
  readonly now?: Date;
}

/**
 * An HS256 user token: `sub` (and `userClaim`) = the user id, `iat`, `exp`, a fresh `jti` (what
 * signing out revokes), and `iss` / `aud` when given.
 */
export async function signUserToken(
  secret: string,
  userId: string,
  options: UserTokenOptions,
): Promise<{ token: string; expiresAt: Date }> {
  const issuedAt = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const expiresAt = issuedAt + options.ttlSeconds;
  const claims = options.userClaim && options.userClaim !== 'sub' ? { [options.userClaim]: userId } : {};
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(userId);
  jwt = jwt.setIssuedAt(issuedAt).setExpirationTime(expiresAt).setJti(randomUUID());
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience)
    jwt = jwt.setAudience(typeof options.audience === 'string' ? options.audience : [...options.audience]);
  const token = await jwt.sign(new TextEncoder().encode(secret));
  return { token, expiresAt: new Date(expiresAt * 1000) };
}

/** How long a development session lasts. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

/** `Set-Cookie` for a session: HttpOnly, SameSite=Lax, Path=/, `Secure` when served over HTTPS. */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return [`${SESSION_COOKIE}=${token}`, 'Path=/', `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Lax']
    .concat(secure ? ['Secure'] : [])
    .join('; ');
}

/** `Set-Cookie` that removes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}
