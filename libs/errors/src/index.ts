export { AppError, type AppErrorArgs, type AppErrorOptions } from './app-error.js';
export {
  type CatalogEntry,
  CODE_FOR_STATUS,
  ERROR_CATALOG,
  type ErrorBody,
  type ErrorCode,
  type ErrorParams,
  isErrorCode,
  RESERVED_EVENT_NAMES,
  statusOf,
} from './error-catalog.js';
