import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { type AuthConfig, loadConfig } from '@app/config';
import { AppError } from '@app/errors';
import { Authenticator, type Principal } from './authenticator.js';
import type { RevokedTokens } from './revoked-tokens.js';
import { signUserToken } from './user-token.js';

const SECRET = 'authenticator-spec-secret-32-bytes!!';
const ADMIN = 'admin-token-for-the-spec';
/** The stream app's auth settings with only AUTH_JWT_SECRET set, then `overrides`. */
const config = (overrides: Partial<AuthConfig> = {}): AuthConfig => ({
  ...loadConfig('stream', { AUTH_JWT_SECRET: SECRET }).auth,
  ...overrides,
});
const tokenFor = async (userId: string) => (await signUserToken(SECRET, userId, { ttlSeconds: 600 })).token;
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, url: '/x' });

/** Runs `act` and returns the AppError it throws. */
async function refusal(act: () => unknown): Promise<AppError> {
  try {
    await act();
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

describe(Authenticator.name, () => {
  const alice = randomUUID();
  const bob = randomUUID();
  const sut: Authenticator = new Authenticator(config(), ADMIN);

  it('is anonymous without a credential and a user with a valid token, from any transport', async () => {
    assert.deepEqual(await sut.authenticate({ headers: {}, url: '/x' }), { kind: 'anonymous' });
    const token = await tokenFor(alice);
    for (const source of [
      bearer(token),
      { headers: { cookie: `kubescaler_session=${token}` }, url: '/x' },
      { headers: {}, url: `/x?access_token=${token}` },
    ]) {
      const principal = await sut.authenticate(source);
      assert.equal(principal.kind, 'user');
      assert.equal((principal as Extract<Principal, { kind: 'user' }>).userId, alice);
    }
  });

  it('answers 401 invalid_token for a bad token, naming the reason but never the token', async () => {
    const expired = (await signUserToken(SECRET, alice, { ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) }))
      .token;
    const error = await refusal(() => sut.authenticate(bearer(expired)));
    assert.equal(error.status, 401);
    assert.equal(error.code, 'UNAUTHENTICATED');
    assert.equal(error.challenge, 'Bearer error="invalid_token"');
    assert.deepEqual(error.details, { reason: 'expired' });
    assert.ok(!error.message.includes(expired));
    assert.equal((await refusal(() => sut.authenticate(bearer('')))).code, 'UNAUTHENTICATED');
  });

  it('takes the admin token only as a bearer header, and only where the route allows it', async () => {
    assert.deepEqual(await sut.authenticate(bearer(ADMIN), { admin: true }), { kind: 'admin' });
    assert.equal((await refusal(() => sut.authenticate(bearer(ADMIN)))).code, 'UNAUTHENTICATED');
    const inQuery = { headers: {}, url: `/x?access_token=${ADMIN}` };
    assert.equal((await refusal(() => sut.authenticate(inQuery, { admin: true }))).code, 'UNAUTHENTICATED');
  });

  it("lets a user's own token reach that user's resources only", async () => {
    const asAlice = await sut.authenticate(bearer(await tokenFor(alice)));
    sut.requireUser(asAlice, alice);
    const forbidden = await refusal(() => sut.requireUser(asAlice, bob));
    assert.deepEqual([forbidden.status, forbidden.code], [403, 'FORBIDDEN']);
    const anonymous = await refusal(() => sut.requireUser({ kind: 'anonymous' }, alice));
    assert.deepEqual([anonymous.status, anonymous.code, anonymous.challenge], [401, 'UNAUTHENTICATED', 'Bearer']);
    sut.requireUser({ kind: 'admin' }, alice, { admin: true });
    assert.equal((await refusal(() => sut.requireUser({ kind: 'admin' }, alice))).code, 'FORBIDDEN');
  });

  it('keeps the lists of every user and pair for the admin, unless development sign-in is on', async () => {
    const asAlice = await sut.authenticate(bearer(await tokenFor(alice)));
    sut.requireDirectory({ kind: 'admin' });
    assert.equal((await refusal(() => sut.requireDirectory({ kind: 'anonymous' }))).status, 401);
    assert.equal((await refusal(() => sut.requireDirectory(asAlice))).status, 403);
    const dev = new Authenticator(config({ devLogin: true }), ADMIN);
    dev.requireDirectory({ kind: 'anonymous' });
    dev.requireDirectory(asAlice);
  });

  it('needs a user, not the admin, for "signed in"', async () => {
    sut.requireSignedIn(await sut.authenticate(bearer(await tokenFor(alice))));
    assert.equal((await refusal(() => sut.requireSignedIn({ kind: 'anonymous' }))).status, 401);
    assert.equal((await refusal(() => sut.requireSignedIn({ kind: 'admin' }))).status, 403);
  });

  it('in open mode authorizes everything and ignores bad tokens, but still knows a valid one', async () => {
    const open = new Authenticator(config({ mode: 'open', jwtSecret: undefined }), undefined);
    assert.ok(open.open);
    assert.deepEqual(await open.authenticate(bearer('not-a-jwt')), { kind: 'anonymous' });
    open.requireUser({ kind: 'anonymous' }, alice);
    open.requireDirectory({ kind: 'anonymous' });
    const withSecret = new Authenticator(config({ mode: 'open' }), undefined);
    assert.equal((await withSecret.authenticate(bearer(await tokenFor(bob)))).kind, 'user');
  });

  it("answers 503 when the identity provider's keys cannot be fetched", async () => {
    const unreachable = new Authenticator(
      config({ jwtSecret: undefined, jwksUrl: 'http://127.0.0.1:9/jwks' }),
      undefined,
    );
    const rs256 = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ1In0.c2ln';
    const error = await refusal(() => unreachable.authenticate(bearer(rs256)));
    assert.deepEqual([error.status, error.code], [503, 'DEPENDENCY_UNAVAILABLE']);
    assert.equal(error.retryAfterSeconds, 1);
  });
});

describe('Authenticator with a deny-list of revoked sessions', () => {
  const alice = randomUUID();
  const revoked = new Set<string>();
  let down = false;
  const list: RevokedTokens = {
    async isRevoked(tokenId) {
      if (down) throw new Error('ECONNREFUSED');
      return revoked.has(tokenId);
    },
    async revoke(tokenId) {
      revoked.add(tokenId);
    },
  };
  const sut = new Authenticator(config(), ADMIN, undefined, list);

  it("refuses a revoked token 401 (reason revoked) and still accepts the same user's other tokens", async () => {
    const first = await tokenFor(alice);
    const second = await tokenFor(alice);
    const principal = await sut.authenticate(bearer(first));
    assert.ok(principal.kind === 'user' && principal.tokenId, 'sessions carry a token id');
    await list.revoke(principal.tokenId, principal.expiresAt);
    const error = await refusal(() => sut.authenticate(bearer(first)));
    assert.deepEqual(
      [error.status, error.code, (error.details as { reason: string }).reason],
      [401, 'UNAUTHENTICATED', 'revoked'],
    );
    assert.equal((await sut.authenticate(bearer(second))).kind, 'user');
  });

  it('falls back to the token alone while the deny-list cannot be read (never a 503 for every request)', async () => {
    down = true;
    try {
      assert.equal((await sut.authenticate(bearer(await tokenFor(alice)))).kind, 'user');
    } finally {
      down = false;
    }
  });
});
