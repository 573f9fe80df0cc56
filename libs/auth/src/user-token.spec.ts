import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { clearedSessionCookie, sessionCookie, signUserToken } from './user-token.js';

describe(signUserToken.name, () => {
  it('signs HS256 with sub, iat, exp, a fresh jti and the optional issuer and audience', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const sut = await signUserToken('s'.repeat(32), 'user-1', { ttlSeconds: 60, issuer: 'iss', audience: 'aud', now });
    assert.deepEqual(decodeProtectedHeader(sut.token), { alg: 'HS256', typ: 'JWT' });
    const { jti, ...claims } = decodeJwt(sut.token);
    assert.deepEqual(claims, { sub: 'user-1', iat: 1893456000, exp: 1893456060, iss: 'iss', aud: 'aud' });
    assert.match(jti ?? '', /^[0-9a-f-]{36}$/, 'a token id signing out can revoke');
    const again = await signUserToken('s'.repeat(32), 'user-1', { ttlSeconds: 60, now });
    assert.notEqual(decodeJwt(again.token).jti, jti, 'one per token');
    assert.equal(sut.expiresAt.toISOString(), '2030-01-01T00:01:00.000Z');
  });

  it('puts the user id in the configured user-id claim as well as in sub', async () => {
    const sut = await signUserToken('s'.repeat(32), 'user-1', { ttlSeconds: 60, userClaim: 'uid' });
    const { sub, uid } = decodeJwt(sut.token);
    assert.deepEqual([sub, uid], ['user-1', 'user-1']);
  });
});

describe(sessionCookie.name, () => {
  it('is HttpOnly, SameSite=Lax, Path=/, with a Max-Age, and Secure only over HTTPS', () => {
    assert.equal(
      sessionCookie('t', 28800, false),
      'kubescaler_session=t; Path=/; Max-Age=28800; HttpOnly; SameSite=Lax',
    );
    assert.match(sessionCookie('t', 1, true), /; Secure$/);
    assert.equal(clearedSessionCookie(false), 'kubescaler_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
  });
});
