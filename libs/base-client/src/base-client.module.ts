import { Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type ClientAppConfig } from '@app/config';
import type { HealthIndicator, HealthModuleOptions } from '@app/health';
import { BaseClient } from './base-client.js';

/** base must answer within this, or the caller gets a 503. */
export const BASE_TIMEOUT_MS = 1500;

@Injectable()
export class BaseHealthIndicator implements HealthIndicator {
  readonly name = 'base';

  constructor(private readonly base: BaseClient) {}

  check(): Promise<void> {
    return this.base.ping();
  }
}

/** The app's `BaseClient`, built from `BASE_URL`; its pool is closed on shutdown. */
@Module({
  providers: [
    {
      provide: BaseClient,
      inject: [APP_CONFIG],
      useFactory: (config: ClientAppConfig) =>
        new BaseClient(config.baseUrl, {
          timeoutMs: BASE_TIMEOUT_MS,
          adminToken: config.adminToken,
          internalToken: config.internalToken,
        }),
    },
    BaseHealthIndicator,
  ],
  exports: [BaseClient, BaseHealthIndicator],
})
export class BaseClientModule implements OnApplicationShutdown {
  constructor(@Inject(BaseClient) private readonly base: BaseClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.base.close();
  }
}

/** `/health/ready` checks that base answers (`HealthModule.forRoot(BASE_HEALTH, …)`). */
export const BASE_HEALTH: HealthModuleOptions = { imports: [BaseClientModule], indicators: [BaseHealthIndicator] };
