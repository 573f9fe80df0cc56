import { Controller, Get, Inject } from '@nestjs/common';
import { AppError } from '@app/errors';
import {
  HEALTH_INDICATORS,
  type HealthIndicator,
  READINESS_REPORTS,
  type ReadinessReport,
} from './health-indicator.js';
import { Readiness } from './readiness.js';

/** A readiness check that has not answered by then counts as down. */
export const CHECK_TIMEOUT_MS = 1000;

type CheckState = 'up' | 'down';

@Controller('health')
export class HealthController {
  constructor(
    @Inject(HEALTH_INDICATORS) private readonly indicators: readonly HealthIndicator[],
    @Inject(READINESS_REPORTS) private readonly reports: readonly ReadinessReport[],
    private readonly readiness: Readiness,
  ) {}

  /** Liveness: the event loop answers. Never depends on other systems. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(): Promise<{ status: 'ok'; checks: Record<string, CheckState>; [report: string]: unknown }> {
    if (this.readiness.draining) {
      throw AppError.of('DRAINING');
    }
    const results = await Promise.all(
      this.indicators.map(async (indicator) => [indicator.name, await probe(indicator)] as const),
    );
    const checks = Object.fromEntries(results);
    if (results.some(([, state]) => state === 'down')) {
      throw AppError.of('DEPENDENCY_UNAVAILABLE', { checks });
    }
    return { ...Object.fromEntries(this.reports.map((r) => [r.name, r.report()])), status: 'ok', checks };
  }
}

async function probe(indicator: HealthIndicator): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([indicator.check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
