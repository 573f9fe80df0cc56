import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { toErrorResponse } from './error-response.js';
import { redactAccessTokens } from '@app/secrets';

/** The one exception filter of every app: catalog codes → HTTP, the rest → logged 500. */
@Catch()
export class AppExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(AppExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { body, retryAfterSeconds, challenge, unexpected } = toErrorResponse(exception);
    if (unexpected) {
      this.logger.error(
        redactAccessTokens(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)),
      );
    } else if (body.statusCode >= 500) {
      const cause =
        exception instanceof Error && exception.cause instanceof Error ? `: ${exception.cause.message}` : '';
      this.logger.warn(redactAccessTokens(`${body.code} ${body.message}${cause}`));
    }
    if (reply.sent || reply.raw.headersSent) {
      // A stream already started: the status line is gone, all that is left is to end it.
      reply.raw.destroy();
      return;
    }
    if (retryAfterSeconds !== undefined) void reply.header('Retry-After', String(retryAfterSeconds));
    if (body.statusCode === 401) void reply.header('WWW-Authenticate', challenge ?? 'Bearer');
    void reply.status(body.statusCode).type('application/json; charset=utf-8').send(body);
  }
}
