import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@app/errors';
import { MetricsService } from '@app/metrics';
import { EventCounter, rejectReasonOf } from './stream-metrics.js';

describe(rejectReasonOf.name, () => {
  it('labels each refusal a client can cause by what it was', () => {
    assert.equal(rejectReasonOf(AppError.of('INVALID_ID', { value: 'x' })), 'bad_request');
    assert.equal(rejectReasonOf(AppError.of('UNAUTHENTICATED', { token: 'user-missing' })), 'unauthenticated');
    assert.equal(rejectReasonOf(AppError.of('FORBIDDEN', { because: 'another-user' })), 'forbidden');
    assert.equal(rejectReasonOf(AppError.of('PROFILE_NOT_FOUND', { profileId: 'p' })), 'not_found');
    assert.equal(rejectReasonOf(AppError.of('NOT_BOUND', { userId: 'u', profileId: 'p' })), 'not_bound');
    assert.equal(rejectReasonOf(AppError.of('PROFILE_IN_USE')), 'in_use');
    assert.equal(rejectReasonOf(AppError.of('TOO_MANY_STREAMS', { maxPerUser: 1 })), 'too_many');
    assert.equal(rejectReasonOf(AppError.of('POD_FULL', { maxConnections: 1 })), 'full');
    assert.equal(rejectReasonOf(AppError.of('DRAINING')), 'draining');
  });

  it('labels a dependency that failed, or anything unexpected, unavailable', () => {
    assert.equal(rejectReasonOf(AppError.dependencyUnavailable('redis', new Error('down'))), 'unavailable');
    assert.equal(rejectReasonOf(new Error('boom')), 'unavailable');
  });
});

describe(EventCounter.name, () => {
  it('adds what it counted into its counter at each scrape, once', async () => {
    const metrics = new MetricsService();
    const sent = new EventCounter(metrics, { name: 'test_events_total', help: 'h' });
    const value = async () => Number(/^test_events_total (\d+)$/m.exec((await metrics.scrape()).body)?.[1]);
    assert.equal(await value(), 0);
    sent.inc();
    sent.inc(41);
    assert.equal(await value(), 42);
    assert.equal(await value(), 42, 'a second scrape adds nothing more');
    sent.inc(8);
    assert.equal(await value(), 50);
  });
});
