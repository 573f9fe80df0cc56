import type { FastifyReply } from 'fastify';
import type { AppError } from '@app/errors';
import { toErrorResponse } from './error-response.js';

/**
 * Answers `error` from outside Nest's pipeline (a Fastify hook, the HTTP parser's error handler)
 * exactly as the exception filter would: status, catalog JSON, `Retry-After`, `WWW-Authenticate`.
 */
export function sendAppError(reply: FastifyReply, error: AppError): FastifyReply {
  const { body, retryAfterSeconds, challenge } = toErrorResponse(error);
  if (retryAfterSeconds !== undefined) void reply.header('Retry-After', String(retryAfterSeconds));
  if (body.statusCode === 401) void reply.header('WWW-Authenticate', challenge ?? 'Bearer');
  return reply.status(body.statusCode).type('application/json; charset=utf-8').send(body);
}
