import { type CanActivate, createParamDecorator, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AppError } from '@app/errors';
import { isUuid } from '@app/ids';
import { Authenticator, type Principal } from './authenticator.js';

/** Who may call a route. */
export type AccessRule =
  /** The user named by route parameter `param` (its own token), or the admin token. */
  | { readonly kind: 'user'; readonly param: string }
  /** Lists of every user and pair (see `Authenticator.requireDirectory`). */
  | { readonly kind: 'directory' }
  /** Any signed-in user. */
  | { readonly kind: 'signed-in' };

const ACCESS = Symbol('access');
const PRINCIPAL = Symbol('principal');

/** Declares a route's access rule; enforced by `AuthGuard` (`@UseGuards(AuthGuard)`). */
export const Access = (rule: AccessRule) => SetMetadata(ACCESS, rule);

/** The request's authenticated principal (after `AuthGuard`). */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal =>
    (context.switchToHttp().getRequest<FastifyRequest>() as unknown as Record<symbol, Principal>)[PRINCIPAL]!,
);

/**
 * Enforces the route's `@Access` rule, in this order: a malformed user id is 400 (as the id
 * pipe would say), then no or a bad token 401, then another user's token 403.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.get<AccessRule | undefined>(ACCESS, context.getHandler());
    if (!rule)
      throw new Error(`${context.getClass().name}.${context.getHandler().name} uses AuthGuard without @Access`);
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    let userId: string | undefined;
    if (rule.kind === 'user') {
      const raw = (request.params as Record<string, unknown>)[rule.param];
      if (!isUuid(raw)) throw AppError.of('INVALID_ID', { value: raw });
      userId = raw.toLowerCase();
    }
    const principal = await this.authenticator.authenticate(request, { admin: true });
    if (rule.kind === 'user') this.authenticator.requireUser(principal, userId!, { admin: true });
    else if (rule.kind === 'directory') this.authenticator.requireDirectory(principal);
    else this.authenticator.requireSignedIn(principal);
    (request as unknown as Record<symbol, Principal>)[PRINCIPAL] = principal;
    return true;
  }
}
