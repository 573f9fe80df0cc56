import { Controller, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Access, AuthGuard, clearedSessionCookie, CurrentPrincipal, type Principal } from '@app/auth';
import { BaseClient } from '@app/base-client';

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
  constructor(private readonly base: BaseClient) {}

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

  /** Removes the session cookie. Needs no token: signing out always works. */
  @Post('logout')
  @HttpCode(204)
  logout(@Res({ passthrough: true }) reply: FastifyReply): void {
    void reply.header('Set-Cookie', clearedSessionCookie(isHttps(reply.request)));
  }
}

/** Served over HTTPS, directly or behind a TLS-terminating ingress: the cookie gets `Secure`. */
export function isHttps(request: FastifyRequest): boolean {
  const forwarded = request.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return request.protocol === 'https' || proto === 'https';
}
