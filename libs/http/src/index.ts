export { AdminGuard } from './admin.guard.js';
export { AppExceptionFilter } from './app-exception.filter.js';
export { type ErrorResponse, toErrorResponse } from './error-response.js';
export {
  BODY_LIMIT_BYTES,
  bootstrapHttpApp,
  configureHttpApp,
  createFastifyAdapter,
  createValidationPipe,
} from './http-app.js';
export { IdParam, ParseIdPipe } from './ids.js';
export { rootModule } from './root-module.js';
export { sendAppError } from './error-reply.js';
export { ClientRateLimiter, clientAddress } from './rate-limiter.js';
export { loggingModule, REQUEST_ID_HEADER, routeOf } from './logging.js';
export { redactSecrets } from './log-redaction.js';
