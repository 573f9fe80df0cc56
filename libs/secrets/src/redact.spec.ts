import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactAccessTokens } from './redact.js';

describe(redactAccessTokens.name, () => {
  it('replaces every access_token value and keeps the rest of the text', () => {
    assert.equal(
      redactAccessTokens('Cannot GET /x?a=1&access_token=eyJ.a-b_c.d&b=2 and /y?ACCESS_TOKEN=z'),
      'Cannot GET /x?a=1&access_token=[redacted]&b=2 and /y?ACCESS_TOKEN=[redacted]',
    );
  });

  it('also redacts a parameter whose percent-encoded name decodes to access_token, and after ;', () => {
    assert.equal(
      redactAccessTokens('Route GET:/x?%61ccess_token=eyJ.a.b&access%5Ftoken=c.d not found'),
      'Route GET:/x?%61ccess_token=[redacted]&access%5Ftoken=[redacted] not found',
    );
    assert.equal(redactAccessTokens('/x;access_token=a.b'), '/x;access_token=[redacted]');
    assert.equal(redactAccessTokens('/x?%2561ccess_token=a.b'), '/x?%2561ccess_token=[redacted]');
    assert.equal(redactAccessTokens('/x?%E0%A4%A=a.b'), '/x?%E0%A4%A=[redacted]', 'a name that does not decode');
  });

  it('leaves text without the parameter alone', () => {
    assert.equal(redactAccessTokens('GET /stream/a/b?my_access_token_x=1'), 'GET /stream/a/b?my_access_token_x=1');
  });
});
