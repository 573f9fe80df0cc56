import { Injectable, Logger, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type ClientAppConfig, InjectConfig } from '@app/config';
import type { HealthModuleOptions, ReadinessReport } from '@app/health';
import { LockModule, REDIS_CLIENT } from '@app/lock';
import { AuthGuard } from './access.js';
import { Authenticator } from './authenticator.js';
import { RedisRevokedTokens, type RevocationStore } from './revoked-tokens.js';

/** What `/health/ready` says about authorization: `{mode}`, and a warning in open mode. */
@Injectable()
export class AuthReadinessReport implements ReadinessReport {
  readonly name = 'auth';

  constructor(private readonly authenticator: Authenticator) {}

  report(): { mode: string; warning?: string } {
    return this.authenticator.open ? { mode: 'open', warning: OPEN_WARNING } : { mode: 'jwt' };
  }
}

const OPEN_WARNING = 'AUTH_MODE=open: no token is checked, anyone can open any stream and read any user';

/**
 * The app's one `Authenticator` (from the validated config) and the guard main's routes use.
 * Logs a warning at start when nothing is authorized.
 */
@Module({
  // Redis (REDIS_URL) keeps the signed-out sessions.
  imports: [LockModule],
  providers: [
    {
      provide: Authenticator,
      useFactory: (config: ClientAppConfig, redis: RevocationStore) =>
        new Authenticator(config.auth, config.adminToken, undefined, new RedisRevokedTokens(redis)),
      inject: [APP_CONFIG, REDIS_CLIENT],
    },
    AuthGuard,
    AuthReadinessReport,
  ],
  exports: [Authenticator, AuthGuard, AuthReadinessReport],
})
export class AuthModule implements OnApplicationBootstrap {
  constructor(@InjectConfig() private readonly config: ClientAppConfig) {}

  onApplicationBootstrap(): void {
    const logger = new Logger('Auth');
    const { mode, jwtSecret, jwksUrl, devLogin } = this.config.auth;
    if (mode === 'open') logger.warn(OPEN_WARNING);
    else
      logger.log(
        `users' tokens verified with ${[jwtSecret && 'HS256 secret', jwksUrl && `JWKS ${jwksUrl}`].filter(Boolean).join(' and ')}`,
      );
    if (devLogin) logger.warn('AUTH_DEV_LOGIN=true: anyone may sign in as any user (development only)');
  }
}

/** `/health/ready` says how users' tokens are checked (`HealthModule.forRoot(AUTH_READINESS, …)`). */
export const AUTH_READINESS: HealthModuleOptions = { imports: [AuthModule], reports: [AuthReadinessReport] };
