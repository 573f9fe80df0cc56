import { type DynamicModule, Module } from '@nestjs/common';
import { AuthModule, AuthReadinessReport } from '@app/auth';
import { BaseClientModule, BaseHealthIndicator } from '@app/base-client';
import { type AppConfig, ConfigModule } from '@app/config';
import { HealthModule } from '@app/health';
import { LockModule, RedisHealthIndicator } from '@app/lock';
import { MetricsModule } from '@app/metrics';
import { StreamsModule } from './streams/streams.module.js';
import { WebModule } from './web/web.module.js';

/** stream: the SSE tier, one live stream per (user, profile) across every pod. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        HealthModule.forRoot({
          imports: [LockModule.forRoot(), BaseClientModule, AuthModule],
          indicators: [RedisHealthIndicator, BaseHealthIndicator],
          reports: [AuthReadinessReport],
        }),
        StreamsModule,
        WebModule,
      ],
    };
  }
}
