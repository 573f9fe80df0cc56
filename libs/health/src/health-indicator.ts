/** One dependency's readiness check: resolves when it is usable, rejects (fast) when not. */
export interface HealthIndicator {
  readonly name: string;
  check(): Promise<void>;
}

export const HEALTH_INDICATORS = Symbol('HEALTH_INDICATORS');

/** A fact `/health/ready` reports beside its checks (e.g. that nothing is authorized); never fails readiness. */
export interface ReadinessReport {
  readonly name: string;
  report(): unknown;
}

export const READINESS_REPORTS = Symbol('READINESS_REPORTS');
