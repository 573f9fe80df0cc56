export { bearerToken, SecretMatcher } from './bearer.js';
export { ACCESS_TOKEN_PARAM, redactAccessTokens } from './redact.js';
