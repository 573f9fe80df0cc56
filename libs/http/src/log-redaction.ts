import { redactAccessTokens } from '@app/secrets';

const BEARER_CREDENTIAL = /\b(Bearer[ \t]+)[^\s"',;]+/gi;
const SESSION_COOKIE = /\b(kubescaler_session=)[^\s"',;]+/gi;
/** A compact JWS (a JWT): three base64url parts, the first one a JSON header (`eyJ` = `{"`). */
const JWT = /\beyJ[\w-]*\.[\w-]+\.[\w-]*/g;

/**
 * `text` with every credential a log line could carry replaced: `access_token=` parameters, bearer
 * credentials, the session cookie and anything shaped like a JWT.
 */
export function redactSecrets(text: string): string {
  return redactAccessTokens(text)
    .replace(BEARER_CREDENTIAL, '$1[redacted]')
    .replace(SESSION_COOKIE, '$1[redacted]')
    .replace(JWT, '[redacted]');
}
