import { Body, Controller, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { SESSION_TTL_SECONDS, sessionCookie, signUserToken } from '@app/auth';
import { BaseClient } from '@app/base-client';
import { type MainConfig, InjectConfig } from '@app/config';
import { isUuid } from '@app/ids';
import { RateLimit, RateLimitGuard } from '../rate-limits/rate-limit.guard.js';
import { isHttps } from './session.controller.js';

const devLoginSchema = z.strictObject({
  userId: z.string().refine(isUuid, 'expected a UUID'),
});
type DevLogin = z.infer<typeof devLoginSchema>;

/**
 * Development sign-in: anyone may become any existing user. Registered only with
 * `AUTH_DEV_LOGIN=true` (elsewhere the route does not exist: 404).
 */
@Controller('dev-login')
export class DevLoginController {
  private readonly secret: string;

  constructor(
    @InjectConfig() private readonly config: MainConfig,
    private readonly base: BaseClient,
  ) {
    // Configuration validation refuses AUTH_DEV_LOGIN without a secret; this is the invariant.
    if (!config.auth.jwtSecret) throw new Error('development sign-in needs AUTH_JWT_SECRET');
    this.secret = config.auth.jwtSecret;
  }

  /** Lets the web client know it may offer "sign in as". */
  @Get()
  info(): { enabled: true; sessionTtlSeconds: number } {
    return { enabled: true, sessionTtlSeconds: SESSION_TTL_SECONDS };
  }

  /** Sets the `kubescaler_session` cookie for an existing user (404 `USER_NOT_FOUND` otherwise). */
  @Post()
  @HttpCode(200)
  @UseGuards(RateLimitGuard)
  @RateLimit('signIn')
  async signIn(
    @Body({ schema: devLoginSchema }) body: DevLogin,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ userId: string; name: string; expiresAt: string }> {
    const user = await this.base.getUser(body.userId.toLowerCase());
    const { issuer, audience, userClaim } = this.config.auth;
    const session = await signUserToken(this.secret, user.id, {
      ttlSeconds: SESSION_TTL_SECONDS,
      issuer,
      audience: audience?.[0],
      userClaim,
    });
    void reply.header('Set-Cookie', sessionCookie(session.token, SESSION_TTL_SECONDS, isHttps(reply.request)));
    return { userId: user.id, name: user.name, expiresAt: session.expiresAt.toISOString() };
  }
}
