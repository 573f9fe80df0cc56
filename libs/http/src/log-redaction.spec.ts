import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactSecrets } from './log-redaction.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl';

describe(redactSecrets.name, () => {
  it('replaces access_token parameters, bearer credentials, the session cookie and JWTs', () => {
    assert.equal(redactSecrets('/stream/u/p?x=1&access_token=abc.def'), '/stream/u/p?x=1&access_token=[redacted]');
    assert.equal(redactSecrets('Authorization: Bearer s3cr3t-admin'), 'Authorization: Bearer [redacted]');
    assert.equal(
      redactSecrets('cookie kubescaler_session=abc; other=1'),
      'cookie kubescaler_session=[redacted]; other=1',
    );
    assert.equal(redactSecrets(`token ${JWT} expired`), 'token [redacted] expired');
  });

  it('leaves text without credentials as it is', () => {
    const text = 'GET /main/login/:userId 401 12 ms (eyJ alone is no token)';
    assert.equal(redactSecrets(text), text);
  });
});
