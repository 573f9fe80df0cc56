/**
 * Every error code the system answers with, and its HTTP status. One catalog for all apps,
 * so a code means the same thing wherever it appears.
 */
export const ERROR_CATALOG = {
  VALIDATION_FAILED: 400,
  INVALID_ID: 400,
  INVALID_PAGE_TOKEN: 400,
  INVALID_LAST_EVENT_ID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  ADMIN_DISABLED: 403,
  NOT_BOUND: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  PROFILE_NOT_FOUND: 404,
  BINDING_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PROFILE_IN_USE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNKNOWN_USERS: 422,
  INTERNAL: 500,
  DEPENDENCY_UNAVAILABLE: 503,
  POD_FULL: 503,
  DRAINING: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The JSON body of every error response. */
export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOG[code];
}
