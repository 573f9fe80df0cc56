export { AppError, type AppErrorOptions } from './app-error.js';
export { ERROR_CATALOG, type ErrorBody, type ErrorCode, statusOf } from './error-catalog.js';
