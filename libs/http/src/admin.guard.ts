import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type AppConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { bearerToken, SecretMatcher } from './bearer.js';

/**
 * Guards destructive endpoints with `Authorization: Bearer <ADMIN_TOKEN>`.
 * Fails closed: with no token configured every call is refused.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly admin: SecretMatcher;

  constructor(@InjectConfig() config: AppConfig) {
    this.admin = new SecretMatcher(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.admin.configured) {
      throw new AppError('ADMIN_DISABLED', 'Admin endpoints are disabled: no ADMIN_TOKEN is configured');
    }
    const token = bearerToken(context.switchToHttp().getRequest<FastifyRequest>().headers.authorization);
    if (!token) {
      throw new AppError('UNAUTHENTICATED', 'Admin token required: send Authorization: Bearer <token>');
    }
    if (!this.admin.matches(token)) {
      throw new AppError('FORBIDDEN', 'Admin token is not valid');
    }
    return true;
  }
}
