import { type DynamicModule, Module, type ModuleMetadata, type Type } from '@nestjs/common';
import {
  HEALTH_INDICATORS,
  type HealthIndicator,
  READINESS_REPORTS,
  type ReadinessReport,
} from './health-indicator.js';
import { HealthController } from './health.controller.js';
import { ReadinessModule } from './readiness.module.js';

/**
 * What one part of an app adds to its health: the checks of `/health/ready` and the facts it
 * reports there. A lib that talks to a store exports its part next to its module (the lock's
 * Redis, base's client), so an app lists the parts it uses instead of wiring each one.
 */
export interface HealthModuleOptions {
  /** Modules that export what the indicators and reports need. */
  imports?: ModuleMetadata['imports'];
  indicators?: Type<HealthIndicator>[];
  /** Facts added to the `/health/ready` answer. */
  reports?: Type<ReadinessReport>[];
}

/** `GET /health/live` and `GET /health/ready` (every indicator up, and not draining). */
@Module({})
export class HealthModule {
  static forRoot(...parts: HealthModuleOptions[]): DynamicModule {
    const imports = parts.flatMap((part) => part.imports ?? []);
    const indicators = parts.flatMap((part) => part.indicators ?? []);
    const reports = parts.flatMap((part) => part.reports ?? []);
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
