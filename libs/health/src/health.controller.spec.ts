import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { AppError } from '@app/errors';
import {
  HEALTH_INDICATORS,
  type HealthIndicator,
  READINESS_REPORTS,
  type ReadinessReport,
} from './health-indicator.js';
import { CHECK_TIMEOUT_MS, HealthController } from './health.controller.js';
import { HealthModule } from './health.module.js';
import { Readiness } from './readiness.js';

/** An indicator that is up, down (rejects), or never answers; counts its checks. */
class FakeIndicator implements HealthIndicator {
  checks = 0;

  constructor(
    readonly name: string,
    private readonly state: 'up' | 'down' | 'silent' = 'up',
  ) {}

  check(): Promise<void> {
    this.checks++;
    if (this.state === 'down') return Promise.reject(new Error(`${this.name} refused`));
    if (this.state === 'silent') return new Promise(() => {});
    return Promise.resolve();
  }
}

const AUTH_REPORT: ReadinessReport = { name: 'auth', report: () => ({ mode: 'jwt' }) };

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => assert.fail('ready'),
    (error: unknown) => error,
  );
  assert.ok(error instanceof AppError, String(error));
  return error;
}

describe(HealthController.name, () => {
  let readiness: Readiness;

  beforeEach(() => {
    readiness = new Readiness();
  });

  afterEach(() => mock.timers.reset());

  it('is live without asking any dependency, also while draining', () => {
    const redis = new FakeIndicator('redis', 'down');
    const sut = new HealthController([redis], [], readiness);
    readiness.markDraining();
    assert.deepEqual(sut.live(), { status: 'ok' });
    assert.equal(redis.checks, 0);
  });

  it('is ready when every check is up, with each check and every report in the answer', async () => {
    const sut = new HealthController([new FakeIndicator('redis'), new FakeIndicator('base')], [AUTH_REPORT], readiness);
    assert.deepEqual(await sut.ready(), { auth: { mode: 'jwt' }, status: 'ok', checks: { redis: 'up', base: 'up' } });
  });

  it('answers 503 DEPENDENCY_UNAVAILABLE naming every check when one is down', async () => {
    const sut = new HealthController([new FakeIndicator('redis'), new FakeIndicator('base', 'down')], [], readiness);
    const error = await refusal(sut.ready());
    assert.deepEqual(error.toBody(), {
      statusCode: 503,
      code: 'DEPENDENCY_UNAVAILABLE',
      message: 'Not ready: a dependency is down',
      details: { checks: { redis: 'up', base: 'down' } },
    });
    assert.equal(error.retryAfterSeconds, 1);
  });

  it(`counts a check that has not answered within ${CHECK_TIMEOUT_MS} ms as down`, async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const sut = new HealthController([new FakeIndicator('cassandra', 'silent')], [], readiness);
    let settled = false;
    const answer = refusal(sut.ready()).finally(() => (settled = true));
    mock.timers.tick(CHECK_TIMEOUT_MS - 1);
    await new Promise((done) => setImmediate(done));
    assert.equal(settled, false, 'still waiting just before the timeout');
    mock.timers.tick(1);
    assert.deepEqual((await answer).details, { checks: { cassandra: 'down' } });
  });

  it('answers 503 DRAINING once the pod drains, without probing anything', async () => {
    const redis = new FakeIndicator('redis');
    const sut = new HealthController([redis], [], readiness);
    readiness.markDraining();
    const error = await refusal(sut.ready());
    assert.deepEqual([error.status, error.code, error.retryAfterSeconds], [503, 'DRAINING', 1]);
    assert.equal(redis.checks, 0);
  });
});

describe(HealthModule.name, () => {
  class RedisIndicator extends FakeIndicator {}
  class BaseIndicator extends FakeIndicator {}
  class AuthReport {}
  class LockLib {}
  class BaseLib {}

  it('wires the checks and reports of every part an app lists, in order, and their modules', () => {
    const sut = HealthModule.forRoot(
      { imports: [LockLib], indicators: [RedisIndicator] },
      { imports: [BaseLib], indicators: [BaseIndicator] },
      { reports: [AuthReport as never] },
    );
    assert.deepEqual(sut.imports?.slice(1), [LockLib, BaseLib]);
    const providers = sut.providers as { provide?: unknown; inject?: unknown[] }[];
    const injected = (token: symbol) => providers.find((p) => p.provide === token)?.inject;
    assert.deepEqual(injected(HEALTH_INDICATORS), [RedisIndicator, BaseIndicator]);
    assert.deepEqual(injected(READINESS_REPORTS), [AuthReport]);
  });
});
