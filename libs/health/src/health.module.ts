import { type DynamicModule, Module, type ModuleMetadata, type Type } from '@nestjs/common';
import { HEALTH_INDICATORS, type HealthIndicator } from './health-indicator.js';
import { HealthController } from './health.controller.js';
import { ReadinessModule } from './readiness.module.js';

export interface HealthModuleOptions {
  /** Modules that export what the indicators need. */
  imports?: ModuleMetadata['imports'];
  indicators?: Type<HealthIndicator>[];
}

/** `GET /health/live` and `GET /health/ready` (every indicator up, and not draining). */
@Module({})
export class HealthModule {
  static forRoot({ imports = [], indicators = [] }: HealthModuleOptions = {}): DynamicModule {
    return {
      module: HealthModule,
      imports: [ReadinessModule, ...imports],
      controllers: [HealthController],
      providers: [
        ...indicators,
        {
          provide: HEALTH_INDICATORS,
          useFactory: (...instances: HealthIndicator[]) => instances,
          inject: indicators,
        },
      ],
      exports: [ReadinessModule],
    };
  }
}
