import { HttpException } from '@nestjs/common';
import { AppError, type ErrorBody } from '@app/errors';
import { redactAccessTokens } from '@app/secrets';

/** What the exception filter sends for one thrown value. */
export interface ErrorResponse {
  body: ErrorBody;
  retryAfterSeconds?: number;
  /** `WWW-Authenticate` of a 401. */
  challenge?: string;
  /** True when the error is ours (a bug or an unmapped failure) and must be logged. */
  unexpected: boolean;
}

/**
 * Maps anything thrown while handling a request to the `{statusCode, code, message}` contract:
 * our `AppError`s by their catalog entry; Nest `HttpException`s and Fastify's own 4xx errors (bad
 * JSON, body too large) by status, under the catalog's generic code for it (a framework 409 is
 * `CONFLICT`, never a domain code); everything else, and a status without a generic code, to a
 * logged 500.
 */
export function toErrorResponse(exception: unknown): ErrorResponse {
  if (exception instanceof AppError) return fromAppError(exception);
  if (exception instanceof HttpException) {
    return fromStatus(exception.getStatus(), messageOf(exception.getResponse()) ?? exception.message);
  }
  const fastifyStatus = clientErrorStatus(exception);
  if (fastifyStatus !== undefined) return fromStatus(fastifyStatus, (exception as Error).message);
  return internal();
}

function fromAppError(error: AppError): ErrorResponse {
  return {
    body: error.toBody(),
    retryAfterSeconds: error.retryAfterSeconds,
    challenge: error.challenge,
    unexpected: false,
  };
}

function fromStatus(status: number, message: string): ErrorResponse {
  // Framework messages quote the request URL ("Cannot GET /x?access_token=…"): never echo a token.
  const error = AppError.forStatus(status, redactAccessTokens(message));
  return error ? fromAppError(error) : internal();
}

/** A bug or an unmapped failure: logged, and answered without revealing what went wrong. */
function internal(): ErrorResponse {
  return { body: AppError.of('INTERNAL').toBody(), unexpected: true };
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
