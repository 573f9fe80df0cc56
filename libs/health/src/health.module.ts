import { type DynamicModule, Module, type ModuleMetadata, type Type } from '@nestjs/common';
import {
  HEALTH_INDICATORS,
  type HealthIndicator,
  READINESS_REPORTS,
  type ReadinessReport,
} from './health-indicator.js';
import { HealthController } from './health.controller.js';
import { ReadinessModule } from './readiness.module.js';

export interface HealthModuleOptions {
  /** Modules that export what the indicators need. */
  imports?: ModuleMetadata['imports'];
  indicators?: Type<HealthIndicator>[];
  /** Facts added to the `/health/ready` answer. */
  reports?: Type<ReadinessReport>[];
}

/** `GET /health/live` and `GET /health/ready` (every indicator up, and not draining). */
@Module({})
export class HealthModule {
  static forRoot({ imports = [], indicators = [], reports = [] }: HealthModuleOptions = {}): DynamicModule {
    return {
      module: HealthModule,
      imports: [ReadinessModule, ...imports],
      controllers: [HealthController],
      providers: [
        ...indicators,
        ...reports,
        {
          provide: READINESS_REPORTS,
          useFactory: (...instances: ReadinessReport[]) => instances,
          inject: reports,
        },
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
