import { HttpException } from '@nestjs/common';
import { AppError, type ErrorBody, type ErrorCode } from '@app/errors';
import { redactAccessTokens } from './redact.js';

/** What the exception filter sends for one thrown value. */
export interface ErrorResponse {
  body: ErrorBody;
  retryAfterSeconds?: number;
  /** `WWW-Authenticate` of a 401. */
  challenge?: string;
  /** True when the error is ours (a bug or an unmapped failure) and must be logged. */
  unexpected: boolean;
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'PROFILE_IN_USE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNKNOWN_USERS',
  503: 'DEPENDENCY_UNAVAILABLE',
};

/**
 * Maps anything thrown while handling a request to the `{statusCode, code, message}` contract:
 * our `AppError`s by their catalog code, Nest `HttpException`s and Fastify's own 4xx errors
 * (bad JSON, body too large) by status, and everything else to a logged 500.
 */
export function toErrorResponse(exception: unknown): ErrorResponse {
  if (exception instanceof AppError) {
    return {
      body: exception.toBody(),
      retryAfterSeconds: exception.retryAfterSeconds,
      challenge: exception.challenge,
      unexpected: false,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return fromStatus(status, messageOf(exception.getResponse()) ?? exception.message);
  }
  const fastifyStatus = clientErrorStatus(exception);
  if (fastifyStatus !== undefined) {
    return fromStatus(fastifyStatus, (exception as Error).message);
  }
  return {
    body: { statusCode: 500, code: 'INTERNAL', message: 'Internal server error' },
    unexpected: true,
  };
}

function fromStatus(status: number, message: string): ErrorResponse {
  const code = CODE_BY_STATUS[status];
  if (code === undefined) {
    return { body: { statusCode: 500, code: 'INTERNAL', message: 'Internal server error' }, unexpected: true };
  }
  // Framework messages quote the request URL ("Cannot GET /x?access_token=…"): never echo a token.
  return { body: { statusCode: status, code, message: redactAccessTokens(message) }, unexpected: false };
}

function messageOf(response: string | object): string | undefined {
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : undefined;
}

/** Fastify's request errors carry a 4xx `statusCode`; anything else is not a client error. */
function clientErrorStatus(exception: unknown): number | undefined {
  if (!(exception instanceof Error)) return undefined;
  const status = (exception as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
