import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { pathUser, testAuthSecret, withAuth } from './auth.js';

describe(withAuth.name, () => {
  const user = randomUUID();
  const stream = `/stream/${user}/${randomUUID()}`;

  it("sends the path's user's own token by default on stream and login paths only", async () => {
    assert.ok(testAuthSecret(), 'the test run provides AUTH_JWT_SECRET');
    for (const path of [stream, `/main/login/${user}`]) {
      const sut = await withAuth(path, {});
      assert.equal(sut.path, path);
      assert.equal(decodeJwt(sut.headers.authorization!.replace(/^Bearer /, '')).sub, user);
    }
    assert.deepEqual(await withAuth('/main/users', {}), { path: '/main/users', headers: {} });
  });

  it('leaves an explicit Authorization header or session cookie alone, and sends nothing for "none"', async () => {
    assert.deepEqual((await withAuth(stream, { Authorization: 'Bearer x' })).headers, {});
    assert.deepEqual((await withAuth(stream, { cookie: 'kubescaler_session=x' })).headers, {});
    assert.deepEqual(await withAuth(stream, {}, 'none'), { path: stream, headers: {} });
  });

  it("sends a given token, or another user's, the way asked", async () => {
    const other = randomUUID();
    const cookie = await withAuth(stream, {}, { userId: other, via: 'cookie' });
    assert.equal(decodeJwt(cookie.headers.cookie!.replace(/^kubescaler_session=/, '')).sub, other);
    assert.deepEqual(await withAuth(`${stream}?x=1`, {}, { token: 'a.b', via: 'query' }), {
      path: `${stream}?x=1&access_token=a.b`,
      headers: {},
    });
  });
});

describe(pathUser.name, () => {
  it('reads the user of stream and login paths, and nothing else', () => {
    assert.equal(pathUser('/stream/u1/p1?access_token=x'), 'u1');
    assert.equal(pathUser('/main/login/u2'), 'u2');
    assert.equal(pathUser('/index/u3/p3'), undefined);
    assert.equal(pathUser('/stream/u4'), undefined);
  });
});
