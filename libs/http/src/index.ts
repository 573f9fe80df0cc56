export { AdminGuard } from './admin.guard.js';
export { bearerToken, SecretMatcher } from './bearer.js';
export { AppExceptionFilter } from './app-exception.filter.js';
export { type ErrorResponse, toErrorResponse } from './error-response.js';
export {
  BODY_LIMIT_BYTES,
  bootstrapHttpApp,
  configureHttpApp,
  createFastifyAdapter,
  createValidationPipe,
  nestLogLevels,
} from './http-app.js';
export { IdParam, isUuid, ParseIdPipe } from './ids.js';
export { mapWithConcurrency } from './concurrency.js';
export { rootModule } from './root-module.js';
export { ACCESS_TOKEN_PARAM, redactAccessTokens } from './redact.js';
export { FreshValue } from './fresh-value.js';
export { sendAppError } from './error-reply.js';
export { ClientRateLimiter, clientAddress } from './rate-limiter.js';
