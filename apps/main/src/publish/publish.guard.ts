import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Authenticator } from '@app/auth';
import { type MainConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { isUuid } from '@app/ids';
import { bearerToken, SecretMatcher } from '@app/secrets';

/**
 * Who may publish to a pair, in this order: malformed ids are 400; then a publisher token
 * (`PUBLISH_TOKENS`, any pair), the admin token (any pair) or the token of the user the pair
 * belongs to (its own pairs only); no or a bad token 401, another user's 403.
 */
@Injectable()
export class PublishGuard implements CanActivate {
  private readonly publishers: readonly SecretMatcher[];

  constructor(
    @InjectConfig() config: MainConfig,
    private readonly authenticator: Authenticator,
  ) {
    this.publishers = config.publish.tokens.map((token) => new SecretMatcher(token));
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const { userId, profileId } = request.params as Record<string, unknown>;
    for (const id of [userId, profileId]) if (!isUuid(id)) throw AppError.of('INVALID_ID', { value: id });
    const token = bearerToken(request.headers.authorization);
    // Every configured token is compared, so the time taken does not tell which one matched.
    if (token && this.publishers.map((publisher) => publisher.matches(token)).includes(true)) return true;
    const principal = await this.authenticator.authenticate(request, { admin: true });
    this.authenticator.requireUser(principal, (userId as string).toLowerCase(), { admin: true });
    return true;
  }
}
