export {
  HEALTH_INDICATORS,
  type HealthIndicator,
  READINESS_REPORTS,
  type ReadinessReport,
} from './health-indicator.js';
export { CHECK_TIMEOUT_MS, HealthController } from './health.controller.js';
export { HealthModule, type HealthModuleOptions } from './health.module.js';
export { Readiness } from './readiness.js';
export { ReadinessModule } from './readiness.module.js';
