import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@app/errors';
import { rejectReasonOf } from './stream-metrics.js';

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
