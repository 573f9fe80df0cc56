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

  it('leaves text without the parameter alone', () => {
    assert.equal(redactAccessTokens('GET /stream/a/b?my_access_token_x=1'), 'GET /stream/a/b?my_access_token_x=1');
  });
});
