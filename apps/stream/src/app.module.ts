import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, ConfigModule } from '@app/config';
import { HealthModule } from '@app/health';
import { MetricsModule } from '@app/metrics';

/** stream: the SSE tier, one live stream per (user, profile) across every pod. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), MetricsModule, HealthModule.forRoot()],
    };
  }
}
