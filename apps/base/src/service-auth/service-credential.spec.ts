import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceCredentialCheck } from './service-credential.js';

const INTERNAL = 'internal-service-token-0123456789';
const ADMIN = 'admin-token-0123456789abcdef';

describe(ServiceCredentialCheck.name, () => {
  const sut = new ServiceCredentialCheck(INTERNAL, ADMIN);
  const refused = (url: string, authorization?: string) => sut.refusal(url, authorization);

  it('lets the internal service credential and the admin token through, on any route', () => {
    for (const url of ['/users', '/users/x?limit=1', '/profiles/a/users/b', '/nowhere']) {
      assert.equal(refused(url, `Bearer ${INTERNAL}`), undefined, url);
      assert.equal(refused(url, `bearer ${ADMIN}`), undefined, url);
    }
  });

  it('refuses a request without a credential 401, unknown routes and writes alike', () => {
    for (const url of ['/users', '/users/x', '/profiles', '/nowhere', '/health', '/health/live/x', '/metrics/x']) {
      const error = refused(url);
      assert.deepEqual([error?.status, error?.code], [401, 'UNAUTHENTICATED'], url);
      assert.match(error!.message, /internal/);
    }
  });

  it('refuses another token 401 invalid_token, without quoting it', () => {
    for (const header of ['Bearer not-the-token-0123456789', `Bearer ${INTERNAL}x`, `Basic ${INTERNAL}`, 'Bearer']) {
      const error = refused('/users', header);
      assert.deepEqual([error?.status, error?.code], [401, 'UNAUTHENTICATED'], header);
      assert.ok(!error!.message.includes('not-the-token'));
    }
    assert.equal(refused('/users', 'Bearer not-the-token-0123456789')?.challenge, 'Bearer error="invalid_token"');
  });

  it('leaves the probes and /metrics open (query ignored)', () => {
    for (const url of ['/health/live', '/health/ready', '/metrics', '/metrics?x=1'])
      assert.equal(refused(url), undefined);
  });

  it('takes no credential at all when none is configured', () => {
    const none = new ServiceCredentialCheck(undefined, undefined);
    assert.equal(none.configured, false);
    assert.equal(none.refusal('/users', 'Bearer ')?.status, 401);
    assert.equal(none.refusal('/users', 'Bearer anything-at-all')?.status, 401);
  });
});
