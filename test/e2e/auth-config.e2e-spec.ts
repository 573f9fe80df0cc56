import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import {
  type AppProcess,
  jsonLogLines,
  request,
  startApp,
  testAuthSecret,
  testInfra,
  uniqueKeyspace,
} from '@app/testing';
import { SseClient } from '../support/sse-client.js';
import { expectRefusal, openStream, type Pair, refusedStream, streamPath } from '../support/stream-stack.js';
import { createPairs } from '../support/system.js';

const LIGHT = { STREAM_EVENTS_PER_SECOND: '20', STREAM_EVENT_BYTES: '256' };
/** No secret, no key set: what the apps must refuse unless told AUTH_MODE=open. */
const NO_AUTH = { AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '' };

/** Starting `app` with `env` fails; resolves with what it printed. */
async function failsToStart(app: 'main' | 'stream', env: Record<string, string>): Promise<string> {
  try {
    const started = await startApp(app, env);
    await started.stop();
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail(`${app} started with ${JSON.stringify(env)}`);
}

describe('authorization settings: start-up checks, open mode and an identity provider', () => {
  let base: AppProcess;
  let pair: Pair;

  before(async () => {
    testInfra();
    // base takes no users' tokens: it starts without any.
    base = await startApp('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('authconfig'), ...NO_AUTH });
    [pair] = (await createPairs(base.url, 1)) as [Pair];
  });

  after(async () => {
    await base?.stop();
  });

  it('refuses to start main or stream with no way to verify tokens, naming the variables', async () => {
    for (const app of ['main', 'stream'] as const) {
      const output = await failsToStart(app, { BASE_URL: base.url, ...NO_AUTH });
      assert.match(output, /AUTH_JWT_SECRET: set AUTH_JWT_SECRET and\/or AUTH_JWKS_URL .*AUTH_MODE=open/);
    }
    const short = await failsToStart('stream', { BASE_URL: base.url, AUTH_JWT_SECRET: 'short-secret-value' });
    assert.match(short, /AUTH_JWT_SECRET: must be at least 32 bytes/);
    assert.doesNotMatch(short, /short-secret-value/, 'the secret is never printed');
    const devWithoutSecret = await failsToStart('main', {
      BASE_URL: base.url,
      AUTH_JWT_SECRET: '',
      AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
      AUTH_DEV_LOGIN: 'true',
    });
    assert.match(devWithoutSecret, /AUTH_DEV_LOGIN: development sign-in signs its sessions with AUTH_JWT_SECRET/);
  });

  it('reports how tokens are checked in /health/ready', async () => {
    const main = await startApp('main', { BASE_URL: base.url });
    try {
      const ready = await request(main.url, 'GET', '/health/ready');
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.deepEqual(ready.body.auth, { mode: 'jwt' });
    } finally {
      await main.stop();
    }
  });

  describe('AUTH_MODE=open', () => {
    let main: AppProcess;
    let stream: AppProcess;

    before(async () => {
      const env = { BASE_URL: base.url, ...NO_AUTH, AUTH_MODE: 'open' };
      [main, stream] = await Promise.all([startApp('main', env), startApp('stream', { ...env, ...LIGHT })]);
    });
    after(async () => {
      await Promise.all([main?.stop(), stream?.stop()]);
    });

    it('logs a warning at start and reports it in /health/ready', async () => {
      for (const app of [main, stream]) {
        const warning = jsonLogLines(app.output()).find((line) => /AUTH_MODE=open: no token is checked/.test(line.msg));
        assert.equal(warning?.level, 'warn', app.output());
        const ready = await request(app.url, 'GET', '/health/ready');
        assert.equal(ready.status, 200);
        assert.equal(ready.body.auth.mode, 'open');
        assert.match(ready.body.auth.warning, /AUTH_MODE=open/);
      }
    });

    it('authorizes everything: streams, logins and lists without a token', async () => {
      const client = await openStream(stream.url, pair, { auth: 'none' });
      await client.close();
      const garbage = await openStream(stream.url, pair, { auth: { token: 'not-a-jwt' } });
      await garbage.close();
      assert.equal((await request(main.url, 'GET', `/main/login/${pair.userId}`, { auth: 'none' })).status, 200);
      assert.equal((await request(main.url, 'GET', '/main/users')).status, 200);
    });
  });

  describe('an identity provider: AUTH_JWKS_URL with AUTH_ISSUER and AUTH_AUDIENCE', () => {
    const ISSUER = 'https://idp.test/realms/kubescaler';
    let jwks: Server;
    let jwksUrl: string;
    let keys: JWK[] = [];
    let stream: AppProcess;
    let main: AppProcess;
    let sign: (claims: Record<string, unknown>) => Promise<string>;
    /** The apps' settings for the provider. */
    let providerEnv: Record<string, string>;

    before(async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      const kid = randomUUID();
      keys = [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }];
      sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
      jwks = createServer((_request, response) =>
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys })),
      );
      await new Promise<void>((done) => jwks.listen(0, '127.0.0.1', done));
      jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/certs`;
      providerEnv = {
        BASE_URL: base.url,
        AUTH_JWT_SECRET: '',
        AUTH_JWKS_URL: jwksUrl,
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: 'kubescaler',
      };
      [stream, main] = await Promise.all([
        startApp('stream', { ...providerEnv, ...LIGHT }),
        startApp('main', providerEnv),
      ]);
    });
    after(async () => {
      await Promise.all([stream?.stop(), main?.stop()]);
      await new Promise((done) => jwks?.close(done));
    });

    const claims = (overrides: Record<string, unknown> = {}) => ({
      sub: pair.userId,
      iss: ISSUER,
      aud: 'kubescaler',
      exp: Math.floor(Date.now() / 1000) + 300,
      ...overrides,
    });

    it("opens the user's stream and login with the provider's token", async () => {
      const token = await sign(claims());
      const client = await openStream(stream.url, pair, { auth: { token } });
      await client.close();
      const login = await request(main.url, 'GET', `/main/login/${pair.userId}`, { auth: { token } });
      assert.equal(login.status, 200);
    });

    it('refuses a wrong issuer or audience, and HS256 tokens when no secret is configured', async () => {
      for (const token of [
        await sign(claims({ iss: 'https://evil.test' })),
        await sign(claims({ aud: 'someone-else' })),
        await new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(testAuthSecret()!)),
      ]) {
        await refusedStream(stream.url, pair, 401, 'UNAUTHENTICATED', { auth: { token } });
      }
    });

    it('reads the user id from AUTH_USER_CLAIM where the provider cannot put it in sub', async () => {
      const claim = 'https://kubescaler.test/user_id';
      const custom = await startApp('stream', { ...providerEnv, AUTH_USER_CLAIM: claim, ...LIGHT });
      try {
        // What Auth0 puts in sub: its own id, not ours.
        const token = await sign(claims({ sub: 'auth0|5f7c8ec7c33c6c004bbafe82', [claim]: pair.userId }));
        const client = await openStream(custom.url, pair, { auth: { token } });
        await client.close();
        await refusedStream(custom.url, pair, 401, 'UNAUTHENTICATED', { auth: { token: await sign(claims()) } });
      } finally {
        await custom.stop();
      }
    });

    it('answers 503 (not 401) while the provider is unreachable and its keys were never fetched', async () => {
      const fresh = await startApp('stream', {
        BASE_URL: base.url,
        AUTH_JWT_SECRET: '',
        AUTH_JWKS_URL: 'http://127.0.0.1:9/certs',
        ...LIGHT,
      });
      try {
        const client = await SseClient.open(fresh.url, streamPath(pair), { auth: { token: await sign(claims()) } });
        const body = await expectRefusal(client, 503, 'DEPENDENCY_UNAVAILABLE');
        assert.match(body.message, /identity provider/);
        await client.close();
      } finally {
        await fresh.stop();
      }
    });
  });
});
