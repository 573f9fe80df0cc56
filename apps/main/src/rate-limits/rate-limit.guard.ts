import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { InjectConfig, type MainConfig } from '@app/config';
import { ClientRateLimiter, clientAddress } from '@app/http';

/** The rate-limited operations of main (`MainConfig.rateLimits`). */
export type RateLimitName = 'signIn' | 'login';

const RATE_LIMIT = Symbol('rate-limit');

/** Declares a route's rate limit; enforced by `RateLimitGuard` (list it before `AuthGuard`: refused calls count too). */
export const RateLimit = (name: RateLimitName) => SetMetadata(RATE_LIMIT, name);

/** 429 `RATE_LIMITED` with `Retry-After` for a client past the route's limit per minute. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limiters: Record<RateLimitName, ClientRateLimiter>;

  constructor(
    private readonly reflector: Reflector,
    @InjectConfig() config: MainConfig,
  ) {
    this.limiters = {
      signIn: new ClientRateLimiter('sign-ins', config.rateLimits.signInPerMinute),
      login: new ClientRateLimiter('live-profile look-ups', config.rateLimits.loginPerMinute),
    };
  }

  canActivate(context: ExecutionContext): boolean {
    const name = this.reflector.get<RateLimitName | undefined>(RATE_LIMIT, context.getHandler());
    if (!name) throw new Error(`${context.getHandler().name} uses RateLimitGuard without @RateLimit`);
    this.limiters[name].take(clientAddress(context.switchToHttp().getRequest<FastifyRequest>().raw));
    return true;
  }
}
