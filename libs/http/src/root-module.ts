import type { DynamicModule, ModuleMetadata, Type } from '@nestjs/common';
import { type AppConfig, ConfigModule } from '@app/config';
import { MetricsModule } from '@app/metrics';
import { loggingModule } from './logging.js';

/**
 * What every app's root module holds: its validated config (global), its logger, `GET /metrics`, its
 * `/health/*` (`health`: `HealthModule.forRoot` with the parts the app uses), then its own modules.
 */
export function rootModule(
  module: Type,
  config: AppConfig,
  health: DynamicModule,
  imports: NonNullable<ModuleMetadata['imports']>,
): DynamicModule {
  return { module, imports: [ConfigModule.forRoot(config), MetricsModule, loggingModule(config), health, ...imports] };
}
