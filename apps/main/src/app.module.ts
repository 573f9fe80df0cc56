import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, ConfigModule } from '@app/config';
import { HealthModule } from '@app/health';
import { MetricsModule } from '@app/metrics';

/** main: the REST tier behind /main (users, profiles, live profiles of a user, test data). */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), MetricsModule, HealthModule.forRoot()],
    };
  }
}
