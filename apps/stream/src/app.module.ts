import { type DynamicModule, Module } from '@nestjs/common';
import { AUTH_READINESS } from '@app/auth';
import { BASE_HEALTH } from '@app/base-client';
import type { StreamConfig } from '@app/config';
import { HealthModule } from '@app/health';
import { rootModule } from '@app/http';
import { REDIS_HEALTH } from '@app/lock';
import { StreamsModule } from './streams/streams.module.js';
import { WebModule } from './web/web.module.js';

/** stream: the SSE tier, one live stream per (user, profile) across every pod. */
@Module({})
export class AppModule {
  static forRoot(config: StreamConfig): DynamicModule {
    const health = HealthModule.forRoot(REDIS_HEALTH, BASE_HEALTH, AUTH_READINESS);
    return rootModule(AppModule, config, health, [StreamsModule, WebModule]);
  }
}
