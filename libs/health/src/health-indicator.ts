/** One dependency's readiness check: resolves when it is usable, rejects (fast) when not. */
export interface HealthIndicator {
  readonly name: string;
  check(): Promise<void>;
}

export const HEALTH_INDICATORS = Symbol('HEALTH_INDICATORS');
