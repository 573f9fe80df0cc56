import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type AppConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { bearerToken, SecretMatcher } from '@app/secrets';

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
      throw AppError.of('ADMIN_DISABLED');
    }
    const token = bearerToken(context.switchToHttp().getRequest<FastifyRequest>().headers.authorization);
    if (!token) {
      throw AppError.of('UNAUTHENTICATED', { token: 'admin-missing' });
    }
    if (!this.admin.matches(token)) {
      throw AppError.of('FORBIDDEN', { because: 'wrong-admin-token' });
    }
    return true;
  }
}
