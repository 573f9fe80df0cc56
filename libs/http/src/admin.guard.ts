import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { type AppConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';

/**
 * Guards destructive endpoints with `Authorization: Bearer <ADMIN_TOKEN>`.
 * Fails closed: with no token configured every call is refused.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@InjectConfig() config: AppConfig) {
    this.expected = config.adminToken === undefined ? undefined : digest(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) {
      throw new AppError('ADMIN_DISABLED', 'Admin endpoints are disabled: no ADMIN_TOKEN is configured');
    }
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new AppError('UNAUTHORIZED', 'Admin token required: send Authorization: Bearer <token>');
    }
    // Compare digests so the comparison takes the same time whatever the token's length.
    if (!timingSafeEqual(digest(match[1]!), this.expected)) {
      throw new AppError('FORBIDDEN', 'Admin token is not valid');
    }
    return true;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
