import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, SecretMatcher } from './bearer.js';

describe(bearerToken.name, () => {
  it('reads the token of a Bearer header in any case of the scheme', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer   abc  '), 'abc');
  });

  it('is undefined for no header or another scheme, and empty for a Bearer without a usable token', () => {
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken('Basic dTpw'), undefined);
    assert.equal(bearerToken('Bearerabc'), undefined);
    assert.equal(bearerToken('Bearer'), '');
    assert.equal(bearerToken('Bearer a b'), '');
  });
});

describe(SecretMatcher.name, () => {
  it('matches only the configured secret, and nothing when none is configured', () => {
    const sut = new SecretMatcher('s3cret-token');
    assert.ok(sut.configured);
    assert.ok(sut.matches('s3cret-token'));
    assert.ok(!sut.matches('s3cret-token '));
    assert.ok(!sut.matches(''));
    assert.ok(!new SecretMatcher(undefined).matches(''));
    assert.ok(!new SecretMatcher(undefined).configured);
  });
});
