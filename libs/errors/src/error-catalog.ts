/**
 * One entry per error code the system answers with: its HTTP status and its message — a fixed
 * text, or a template over the parameters the throw site names (`AppError.of('USER_NOT_FOUND',
 * { userId })`) — and, where the answer carries them, its details and `Retry-After`. One catalog
 * for all apps, so a code means the same thing, with the same words, wherever it appears.
 */
export const ERROR_CATALOG = {
  VALIDATION_FAILED: {
    status: 400,
    message: (p: { problems: readonly string[] }) => p.problems.join('; '),
  },
  INVALID_ID: {
    status: 400,
    message: (p: { value: unknown }) => `${JSON.stringify(p.value)} is not a valid id (expected a UUID)`,
  },
  BAD_REQUEST: { status: 400, message: 'The request is not valid HTTP' },
  INVALID_NAME: {
    status: 400,
    message: (p: { problem: string }) => p.problem,
  },
  INVALID_ENCODING: {
    status: 400,
    message: 'The request body is not valid UTF-8: nothing was read from it',
  },
  INVALID_PAGE_TOKEN: { status: 400, message: 'The page token is not valid; start again without one' },
  INVALID_LAST_EVENT_ID: {
    status: 400,
    message: (p: { max: number; value: string }) =>
      `Last-Event-ID must be the id of an event this stream sent (<seq>.<entry>.<session>, seq 0–${p.max}, or a bare seq), got ${JSON.stringify(p.value.slice(0, 80))}`,
  },
  INVALID_EVENT_NAME: {
    status: 400,
    message: (p: { event: string }) =>
      `event ${JSON.stringify(p.event.slice(0, 80))} is not a publishable event name: 1–64 of A–Z a–z 0–9 _ . : - starting with a letter, and none of ${RESERVED_EVENT_NAMES.join(', ')}`,
  },
  EVENT_TOO_LARGE: {
    status: 413,
    message: (p: { bytes: number; max: number }) =>
      `The event's data is ${p.bytes} bytes of JSON; at most ${p.max} may be published`,
    details: (p: { bytes: number; max: number }) => ({ bytes: p.bytes, maxBytes: p.max }),
  },
  TOO_MANY_STREAMS: {
    status: 429,
    message: (p: { maxPerUser: number }) =>
      `This user already has ${p.maxPerUser} live streams, the most one user may have; close one or try again later`,
    details: (p: { maxPerUser: number }) => ({ maxPerUser: p.maxPerUser }),
    retryAfterSeconds: 5,
  },
  UNAUTHENTICATED: {
    status: 401,
    message: (p: Unauthenticated) =>
      p.token === 'invalid' ? `Invalid token (${p.transport}): ${p.problem}` : MISSING_TOKEN[p.token],
    details: (p: Unauthenticated) => (p.token === 'invalid' ? { reason: p.reason } : undefined),
  },
  FORBIDDEN: {
    status: 403,
    message: (p: { because: keyof typeof FORBIDDEN_BECAUSE }) => FORBIDDEN_BECAUSE[p.because],
  },
  ADMIN_DISABLED: { status: 403, message: 'Admin endpoints are disabled: no ADMIN_TOKEN is configured' },
  NOT_BOUND: { status: 403, message: notBound },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  USER_NOT_FOUND: { status: 404, message: (p: { userId: string }) => `User ${p.userId} does not exist` },
  PROFILE_NOT_FOUND: { status: 404, message: (p: { profileId: string }) => `Profile ${p.profileId} does not exist` },
  BINDING_NOT_FOUND: { status: 404, message: notBound },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  URI_TOO_LONG: { status: 414, message: 'The request URI is too long' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  RATE_LIMITED: {
    status: 429,
    message: (p: RateLimited) =>
      `Too many ${p.what} from this client: at most ${p.limit} a minute; try again in ${p.retryAfterSeconds} s`,
    details: (p: RateLimited) => ({ limit: p.limit, windowSeconds: 60 }),
    retryAfterSeconds: (p: RateLimited) => p.retryAfterSeconds,
  },
  PROFILE_IN_USE: { status: 409, message: 'This profile is already streaming for this user elsewhere' },
  CONFLICT: { status: 409, message: 'Conflict' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported media type' },
  UNKNOWN_USERS: {
    status: 422,
    message: (p: { unknownUserIds: readonly string[] }) => `Unknown user ids: ${p.unknownUserIds.join(', ')}`,
    details: (p: { unknownUserIds: readonly string[] }) => ({ unknownUserIds: p.unknownUserIds }),
  },
  UNPROCESSABLE_ENTITY: { status: 422, message: 'Unprocessable entity' },
  NO_TESTDATA_JOB: { status: 404, message: 'No test-data creation has run recently' },
  TESTDATA_CANCELLED: {
    status: 409,
    message: (p: Stopped) =>
      `Test data creation was cancelled after ${p.created.users} users and ${p.created.profiles} profiles`,
    details: (p: Stopped) => ({ created: p.created, seed: p.seed }),
  },
  TESTDATA_BUSY: {
    status: 429,
    message: (p: Busy) => `A test-data creation or drop is running (${p.jobId}); wait for it or cancel it`,
    details: (p: Busy) => ({ jobId: p.jobId }),
    retryAfterSeconds: (p: Busy) => p.retryAfterSeconds,
  },
  TESTDATA_FAILED: {
    status: 503,
    message: (p: Failed) =>
      `Test data creation stopped after ${p.created.users} users and ${p.created.profiles} profiles: ${p.reason}`,
    details: (p: Failed) => ({ created: p.created, seed: p.seed }),
    retryAfterSeconds: 1,
  },
  INTERNAL: { status: 500, message: 'Internal server error' },
  NOT_IMPLEMENTED: { status: 501, message: 'Not implemented' },
  BAD_GATEWAY: { status: 502, message: 'The service behind the gateway did not answer' },
  GATEWAY_TIMEOUT: { status: 504, message: 'The service behind the gateway did not answer in time' },
  DEPENDENCY_UNAVAILABLE: {
    status: 503,
    message: (p: Unavailable) =>
      'dependency' in p ? `${p.dependency} is unavailable, try again shortly` : 'Not ready: a dependency is down',
    details: (p: Unavailable) => ('dependency' in p ? { dependency: p.dependency } : { checks: p.checks }),
    retryAfterSeconds: 1,
  },
  POD_FULL: {
    status: 503,
    message: (p: { maxConnections: number }) => `This pod is serving its maximum of ${p.maxConnections} streams`,
    retryAfterSeconds: 1,
  },
  DRAINING: { status: 503, message: 'This pod is shutting down and takes no new work', retryAfterSeconds: 1 },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Service unavailable', retryAfterSeconds: 1 },
} as const satisfies Record<string, CatalogEntry>;

/** What one catalog entry holds. `P` is the parameters its templates read. */
export interface CatalogEntry<P = never> {
  readonly status: number;
  readonly message: string | ((params: P) => string);
  /** The answer's `details`, from the same parameters. */
  readonly details?: (params: P) => unknown;
  /** Seconds for a `Retry-After` header (fixed, or from the parameters). */
  readonly retryAfterSeconds?: number | ((params: P) => number);
}

/** Event names the stream itself sends: a publisher may not use them. */
export const RESERVED_EVENT_NAMES = ['hello', 'lock-lost', 'reconnect', 'refused', 'events-lost'] as const;

type Unauthenticated =
  { token: keyof typeof MISSING_TOKEN } | { token: 'invalid'; transport: string; problem: string; reason: string };

type Stopped = { created: { users: number; profiles: number }; seed: number };
type Busy = { jobId: string; retryAfterSeconds: number };
type RateLimited = { what: string; limit: number; retryAfterSeconds: number };

type Failed = Stopped & { reason: string };

type Unavailable = { dependency: string } | { checks: Readonly<Record<string, string>> };

const MISSING_TOKEN = {
  'user-missing':
    'A user token is required: Authorization: Bearer <jwt>, the kubescaler_session cookie or ?access_token=',
  'admin-missing': 'Admin token required: send Authorization: Bearer <token>',
  'service-missing':
    'This service is internal: send Authorization: Bearer <INTERNAL_TOKEN> (the service credential) or the admin token',
};

const FORBIDDEN_BECAUSE = {
  'another-user': "This token does not grant access to another user's resources",
  directory: 'Listing every user and profile needs the admin token',
  'admin-is-no-user': 'The admin token is not a user',
  'wrong-admin-token': 'Admin token is not valid',
  publisher: 'Publishing needs the admin token, a publisher token, or the token of the user the pair belongs to',
};

function notBound(p: { userId: string; profileId: string }): string {
  return `User ${p.userId} is not bound to profile ${p.profileId}`;
}

type Catalog = typeof ERROR_CATALOG;

export type ErrorCode = keyof Catalog;

/** The parameters `code`'s message needs; none for a fixed text. */
export type ErrorParams<C extends ErrorCode> = Catalog[C]['message'] extends (params: infer P) => string
  ? P
  : Record<string, never>;

/**
 * The code a framework error of each status is answered with (Nest's `HttpException`s, Fastify's
 * request errors): a generic code that names the status, never a domain one — a framework 409
 * is not `PROFILE_IN_USE`. Statuses not listed become a logged 500.
 */
export const CODE_FOR_STATUS: Readonly<Partial<Record<number, ErrorCode>>> = Object.freeze({
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  414: 'URI_TOO_LONG',
  431: 'HEADERS_TOO_LARGE',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  503: 'SERVICE_UNAVAILABLE',
});

/** The JSON body of every error response. */
export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOG[code].status;
}
