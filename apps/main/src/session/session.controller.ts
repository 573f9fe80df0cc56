import { Controller, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Access, AuthGuard, Authenticator, clearedSessionCookie, CurrentPrincipal, type Principal } from '@app/auth';
import { BaseClient } from '@app/base-client';
import { AppError } from '@app/errors';

export interface Me {
  userId: string;
  name: string;
  /** When the presented token expires. */
  expiresAt: string;
  /** The user's own profiles: the streams this user may open. */
  profiles: { id: string; name: string }[];
}

/** The signed-in user (any transport) and sign-out. */
@Controller()
export class SessionController {
  constructor(
    private readonly base: BaseClient,
    private readonly auth: Authenticator,
  ) {}

  @Get('me')
  @UseGuards(AuthGuard)
  @Access({ kind: 'signed-in' })
  async me(@CurrentPrincipal() principal: Principal): Promise<Me> {
    const user = principal as Extract<Principal, { kind: 'user' }>;
    const profiles: { id: string; name: string }[] = [];
    const [stored] = await Promise.all([
      this.base.getUser(user.userId),
      (async () => {
        for await (const profile of this.base.allProfilesOf(user.userId)) profiles.push(profile);
      })(),
    ]);
    return {
      userId: stored.id,
      name: stored.name,
      expiresAt: user.expiresAt.toISOString(),
      profiles: profiles.sort((a, b) => a.name.localeCompare(b.name)),
    };
  }

  /**
   * Removes the session cookie and revokes the token presented (cookie or header) until it
   * expires, so a copy of it no longer works. Needs no valid token: signing out always works.
   */
  @Post('logout')
  @HttpCode(204)
  async logout(@Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    void reply.header('Set-Cookie', clearedSessionCookie(isHttps(reply.request)));
    let principal: Principal;
    try {
      principal = await this.auth.authenticate(reply.request.raw);
    } catch {
      return; // An expired, foreign or already revoked token: nothing left to revoke.
    }
    try {
      await this.auth.revoke(principal);
    } catch (error) {
      throw AppError.dependencyUnavailable('redis', error);
    }
  }
}

/** Served over HTTPS, directly or behind a TLS-terminating ingress: the cookie gets `Secure`. */
export function isHttps(request: FastifyRequest): boolean {
  const forwarded = request.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return request.protocol === 'https' || proto === 'https';
}
