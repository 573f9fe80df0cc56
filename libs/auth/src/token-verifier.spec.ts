import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import { KeySetUnavailableError, type TokenRejection, TokenRejectedError, TokenVerifier } from './token-verifier.js';

const SECRET = 'unit-test-secret-that-is-32-bytes-long';
const now = () => Math.floor(Date.now() / 1000);

function hs256(payload: JWTPayload, secret = SECRET, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

async function rejection(sut: TokenVerifier, token: string): Promise<TokenRejection> {
  try {
    await sut.verify(token);
  } catch (error) {
    assert.ok(error instanceof TokenRejectedError, `expected a TokenRejectedError, got ${String(error)}`);
    if (token) assert.ok(!error.message.includes(token), 'the message never quotes the token');
    return error.reason;
  }
  assert.fail('the token was accepted');
}

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

async function signingKey(alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
    publicPem: await exportSPKI(publicKey),
  };
}

function signWith(key: SigningKey, payload: JWTPayload): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
}

/** A local identity provider's key set endpoint whose keys the test rotates, stops and counts. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  down = false;
  private readonly server: Server = createServer((_request, response) => {
    this.fetches++;
    if (this.down) {
      response.writeHead(503).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: this.keys }));
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/jwks.json`;
  }

  close(): Promise<void> {
    return new Promise((done) => this.server.close(() => done()));
  }
}

describe(TokenVerifier.name, () => {
  const userId = randomUUID();
  const valid = () => ({ sub: userId, iat: now(), exp: now() + 600 });

  describe('with the shared secret (HS256)', () => {
    const sut = new TokenVerifier({ secret: SECRET });

    it('accepts a token whose sub is the user id and reports when it expires', async () => {
      const claims = valid();
      const verified = await sut.verify(await hs256({ ...claims, sub: userId.toUpperCase() }));
      assert.equal(verified.userId, userId, 'user ids are compared lower-cased');
      assert.equal(verified.expiresAt.getTime(), claims.exp * 1000);
    });

    it('refuses an expired token, but allows a few seconds of clock skew', async () => {
      assert.equal(await rejection(sut, await hs256({ ...valid(), exp: now() - 60 })), 'expired');
      await sut.verify(await hs256({ ...valid(), exp: now() - 2 }));
    });

    it('remembers a verified token, but never past its expiry', async () => {
      const strict = new TokenVerifier({ secret: SECRET, clockToleranceSeconds: 0 });
      const exp = now() + 1;
      const token = await hs256({ ...valid(), exp });
      assert.equal((await strict.verify(token)).userId, userId);
      assert.equal((await strict.verify(token)).userId, userId);
      assert.equal(strict.rememberedTokens, 1);
      await new Promise((done) => setTimeout(done, exp * 1000 + 20 - Date.now()));
      assert.equal(await rejection(strict, token), 'expired');
      assert.equal(strict.rememberedTokens, 0, 'an expired token is forgotten');
    });

    it('remembers at most `rememberTokens` tokens, the oldest forgotten first, and no refused one', async () => {
      const small = new TokenVerifier({ secret: SECRET, rememberTokens: 2 });
      const tokens = await Promise.all([1, 2, 3].map((i) => hs256({ ...valid(), jti: `t${i}` })));
      for (const token of tokens) await small.verify(token);
      assert.equal(small.rememberedTokens, 2);
      await rejection(small, await hs256(valid(), 'another-secret-that-is-32-bytes-long!'));
      assert.equal(small.rememberedTokens, 2);
    });

    it('refuses a token that is not valid yet', async () => {
      assert.equal(await rejection(sut, await hs256({ ...valid(), nbf: now() + 60 })), 'not-yet-valid');
    });

    it('refuses a wrong signature: another secret, or a payload changed after signing', async () => {
      assert.equal(await rejection(sut, await hs256(valid(), 'another-secret-that-is-32-bytes-long!')), 'signature');
      const [header, , signature] = (await hs256(valid())).split('.');
      const forged = Buffer.from(JSON.stringify({ ...valid(), sub: randomUUID() })).toString('base64url');
      assert.equal(await rejection(sut, `${header}.${forged}.${signature}`), 'signature');
    });

    it('refuses other algorithms, even with the right secret', async () => {
      assert.equal(await rejection(sut, await hs256(valid(), SECRET, 'HS512')), 'algorithm');
      assert.equal(await rejection(sut, await signWith(await signingKey('RS256'), valid())), 'algorithm');
    });

    it('refuses alg "none"', async () => {
      const unsigned = new UnsecuredJWT(valid()).encode();
      assert.match(unsigned, /\.$/, 'an unsecured JWT has an empty signature');
      assert.equal(await rejection(sut, unsigned), 'algorithm');
      // The same, with a signature part glued on.
      assert.equal(await rejection(sut, `${unsigned}c2lnbmF0dXJl`), 'algorithm');
    });

    it('requires sub and exp', async () => {
      const { sub: _sub, ...noSubject } = valid();
      assert.equal(await rejection(sut, await hs256(noSubject)), 'claims');
      assert.equal(await rejection(sut, await hs256({ ...valid(), sub: '' })), 'claims');
      const { exp: _exp, ...noExpiry } = valid();
      assert.equal(await rejection(sut, await hs256(noExpiry)), 'claims');
    });

    it('reads the user id from the configured claim instead of sub, and requires that claim', async () => {
      const custom = new TokenVerifier({ secret: SECRET, userClaim: 'https://kubescaler.test/user_id' });
      const other = randomUUID();
      const claimed = await custom.verify(
        await hs256({ ...valid(), sub: other, 'https://kubescaler.test/user_id': userId }),
      );
      assert.equal(claimed.userId, userId);
      assert.equal(await rejection(custom, await hs256(valid())), 'claims', 'sub alone is not enough');
      for (const bad of ['', 4711, 1.5, true, { id: userId }]) {
        const token = await hs256({ ...valid(), 'https://kubescaler.test/user_id': bad });
        assert.equal(await rejection(custom, token), 'claims', JSON.stringify(bad));
      }
    });

    it('refuses an exp beyond any representable date as a bad claim, never an invalid date', async () => {
      for (const exp of [1e15, 8.64e12 + 1, Number.MAX_SAFE_INTEGER]) {
        assert.equal(await rejection(sut, await hs256({ ...valid(), exp })), 'claims', String(exp));
      }
      const farButValid = await sut.verify(await hs256({ ...valid(), exp: 8.64e12 }));
      assert.equal(farButValid.expiresAt.toISOString(), '+275760-09-13T00:00:00.000Z');
    });

    it('refuses a user id that is not a UUID before anyone uses it', async () => {
      for (const sub of [` ${userId}`, `${userId} `, '?limit=1', '../users', `${userId}/profiles`, '4711', 'ann']) {
        assert.equal(await rejection(sut, await hs256({ ...valid(), sub })), 'claims', JSON.stringify(sub));
      }
    });

    it('refuses what is not a JWT', async () => {
      for (const token of ['', 'abc', 'a.b.c', 'x'.repeat(500)]) assert.equal(await rejection(sut, token), 'malformed');
    });

    it('checks issuer and audience when configured', async () => {
      const strict = new TokenVerifier({
        secret: SECRET,
        issuer: 'https://idp.test',
        audience: ['kubescaler', 'other'],
      });
      await strict.verify(await hs256({ ...valid(), iss: 'https://idp.test', aud: 'other' }));
      assert.equal(await rejection(strict, await hs256({ ...valid(), aud: 'kubescaler' })), 'claims');
      assert.equal(
        await rejection(strict, await hs256({ ...valid(), iss: 'https://evil.test', aud: 'kubescaler' })),
        'claims',
      );
      assert.equal(
        await rejection(strict, await hs256({ ...valid(), iss: 'https://idp.test', aud: 'nobody' })),
        'claims',
      );
    });
  });

  describe('with an identity provider key set (JWKS)', () => {
    const jwks = new JwksServer();
    let rsa: SigningKey;
    let ec: SigningKey;

    before(async () => {
      await jwks.start();
      [rsa, ec] = await Promise.all([signingKey('RS256'), signingKey('ES256')]);
      jwks.keys = [rsa.publicJwk, ec.publicJwk];
    });
    after(() => jwks.close());

    it('verifies RS256 and ES256 tokens with keys fetched once and cached', async () => {
      const sut = new TokenVerifier({ jwksUrl: jwks.url });
      const fetchesBefore = jwks.fetches;
      assert.equal((await sut.verify(await signWith(rsa, valid()))).userId, userId);
      assert.equal((await sut.verify(await signWith(ec, valid()))).userId, userId);
      await sut.verify(await signWith(rsa, valid()));
      assert.equal(jwks.fetches - fetchesBefore, 1);
    });

    it('refuses HS256 tokens, including one "signed" with the provider\'s public key (algorithm confusion)', async () => {
      const confused = await hs256(valid(), rsa.publicPem);
      assert.equal(await rejection(new TokenVerifier({ jwksUrl: jwks.url }), confused), 'algorithm');
      // With a secret configured too, HS256 is verified with that secret only, never a public key.
      assert.equal(await rejection(new TokenVerifier({ jwksUrl: jwks.url, secret: SECRET }), confused), 'signature');
    });

    it('refuses a token signed by a key the provider does not publish', async () => {
      const stranger = await signingKey('RS256');
      const sut = new TokenVerifier({ jwksUrl: jwks.url, keySet: { cooldownMs: 0 } });
      assert.equal(await rejection(sut, await signWith(stranger, valid())), 'unknown-key');
      assert.equal(await rejection(sut, await signWith({ ...stranger, kid: rsa.kid }, valid())), 'signature');
    });

    it('follows a key rotation: a new kid triggers a fetch, a retired key stops verifying', async () => {
      const rotating = new JwksServer();
      await rotating.start();
      try {
        const [first, second] = [await signingKey('RS256'), await signingKey('ES256')];
        rotating.keys = [first.publicJwk];
        const sut = new TokenVerifier({ jwksUrl: rotating.url, keySet: { cooldownMs: 0 } });
        await sut.verify(await signWith(first, valid()));
        assert.equal(rotating.fetches, 1);

        rotating.keys = [first.publicJwk, second.publicJwk];
        await sut.verify(await signWith(second, valid()));
        assert.equal(rotating.fetches, 2, 'the unknown kid fetched the key set again');

        rotating.keys = [second.publicJwk];
        // The cached set still has the first key until it is fetched again.
        await sut.verify(await signWith(first, valid()));
        const retiring = new TokenVerifier({ jwksUrl: rotating.url, keySet: { cooldownMs: 0 } });
        assert.equal(await rejection(retiring, await signWith(first, valid())), 'unknown-key');
        await retiring.verify(await signWith(second, valid()));
      } finally {
        await rotating.close();
      }
    });

    it('skips the key set for a remembered token, for at most `rememberMs`', async () => {
      const withdrawing = new JwksServer();
      await withdrawing.start();
      try {
        const key = await signingKey('ES256');
        withdrawing.keys = [key.publicJwk];
        // Keys are fetched again on every use: only the memory spares a fetch.
        const sut = new TokenVerifier({
          jwksUrl: withdrawing.url,
          keySet: { maxAgeMs: 0, cooldownMs: 0 },
          rememberMs: 300,
        });
        const token = await signWith(key, valid());
        await sut.verify(token);
        const fetched = withdrawing.fetches;
        withdrawing.keys = [];
        await sut.verify(token);
        assert.equal(withdrawing.fetches, fetched, 'the remembered token needed no key');
        await new Promise((done) => setTimeout(done, 350));
        assert.equal(await rejection(sut, token), 'unknown-key');
      } finally {
        await withdrawing.close();
      }
    });

    it('waits out the cooldown before fetching again for an unknown kid', async () => {
      const sut = new TokenVerifier({ jwksUrl: jwks.url, keySet: { cooldownMs: 60_000 } });
      await sut.verify(await signWith(rsa, valid()));
      const fetched = jwks.fetches;
      const stranger = await signingKey('RS256');
      for (let i = 0; i < 5; i++) assert.equal(await rejection(sut, await signWith(stranger, valid())), 'unknown-key');
      assert.equal(jwks.fetches, fetched, 'a flood of unknown kids does not hammer the provider');
    });

    it('is unavailable (not a bad token) when the provider cannot be reached and no keys were ever fetched', async () => {
      const down = new JwksServer();
      await down.start();
      down.down = true;
      try {
        const sut = new TokenVerifier({ jwksUrl: down.url });
        await assert.rejects(sut.verify(await signWith(rsa, valid())), KeySetUnavailableError);
        await down.close();
        await assert.rejects(sut.verify(await signWith(rsa, valid())), KeySetUnavailableError);
      } finally {
        await down.close().catch(() => undefined);
      }
    });

    it('keeps verifying with the keys it has while the provider is down', async () => {
      const flaky = new JwksServer();
      await flaky.start();
      try {
        flaky.keys = [rsa.publicJwk];
        const sut = new TokenVerifier({ jwksUrl: flaky.url, keySet: { maxAgeMs: 1, cooldownMs: 60_000 } });
        await sut.verify(await signWith(rsa, valid()));
        flaky.down = true;
        await new Promise((done) => setTimeout(done, 5));
        assert.equal((await sut.verify(await signWith(rsa, valid()))).userId, userId);
        const failedFetches = flaky.fetches;
        await sut.verify(await signWith(rsa, valid()));
        assert.equal(flaky.fetches, failedFetches, 'after a failure the stale keys serve until the cooldown ends');
      } finally {
        await flaky.close();
      }
    });
  });

  it('needs a secret or a key set', () => {
    assert.throws(() => new TokenVerifier({}), /secret or a JWKS URL/);
  });
});
