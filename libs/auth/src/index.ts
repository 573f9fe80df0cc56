export { Access, type AccessRule, AuthGuard, CurrentPrincipal } from './access.js';
export { AUTH_READINESS, AuthModule, AuthReadinessReport } from './auth.module.js';
export {
  type AuthenticateOptions,
  Authenticator,
  CHALLENGE,
  INVALID_TOKEN_CHALLENGE,
  type Principal,
} from './authenticator.js';
export {
  cookieValue,
  type Credential,
  type CredentialSource,
  extractCredential,
  SESSION_COOKIE,
  type Transport,
} from './credentials.js';
export {
  KEY_SET_ALGORITHMS,
  type KeySetOptions,
  KeySetUnavailableError,
  SECRET_ALGORITHMS,
  type TokenRejection,
  TokenRejectedError,
  TokenVerifier,
  type TokenVerifierOptions,
  type VerifiedToken,
} from './token-verifier.js';
export {
  clearedSessionCookie,
  SESSION_TTL_SECONDS,
  sessionCookie,
  signUserToken,
  type UserTokenOptions,
} from './user-token.js';
export {
  MAX_TOKEN_ID_LENGTH,
  type RevocationStore,
  RedisRevokedTokens,
  type RevokedTokens,
  revokedKey,
} from './revoked-tokens.js';
