import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import {
  type AppProcess,
  mintUserToken,
  request,
  type RequestOptions,
  startApp,
  testInfra,
  uniqueKeyspace,
} from '@app/testing';
import { openStream, type Pair, refusedStream, streamPath } from '../support/stream-stack.js';
import { SseClient } from '../support/sse-client.js';
import { createPairs } from '../support/system.js';

const ADMIN_TOKEN = 'main-auth-admin-token-0123456789';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const DIRECTORY = ['/main/users', '/main/profiles', '/main/suggested', '/main/testdata'];

/** The `Set-Cookie` attributes of a response, parsed. */
function setCookie(headers: Headers): { name: string; value: string; attributes: Map<string, string> } | undefined {
  const raw = headers.get('set-cookie');
  if (!raw) return undefined;
  const [pair, ...attributes] = raw.split(';').map((part) => part.trim());
  const eq = pair!.indexOf('=');
  return {
    name: pair!.slice(0, eq),
    value: pair!.slice(eq + 1),
    attributes: new Map(
      attributes.map((attribute) => {
        const [key, value = ''] = attribute.split('=');
        return [key!.toLowerCase(), value];
      }),
    ),
  };
}

describe('main: who may see which user, and development sign-in', () => {
  let base: AppProcess;
  /** As in production: no development sign-in. */
  let main: AppProcess;
  /** As `npm start` and minikube run it. */
  let devMain: AppProcess;
  let stream: AppProcess;
  let alice: Pair;
  let bob: Pair;

  before(async () => {
    testInfra();
    base = await startApp('base', { CASSANDRA_KEYSPACE: uniqueKeyspace('mainauth'), ADMIN_TOKEN });
    [main, devMain, stream] = await Promise.all([
      startApp('main', { BASE_URL: base.url, ADMIN_TOKEN }),
      startApp('main', { BASE_URL: base.url, ADMIN_TOKEN, AUTH_DEV_LOGIN: 'true' }),
      startApp('stream', { BASE_URL: base.url, STREAM_EVENTS_PER_SECOND: '20', STREAM_EVENT_BYTES: '256' }),
    ]);
    [alice, bob] = (await createPairs(base.url, 2)) as [Pair, Pair];
  });

  after(async () => {
    await Promise.all([main, devMain, stream].map((app) => app?.stop()));
    await base?.stop();
  });

  describe('GET /main/login/:userId', () => {
    const login = (userId: string, options: RequestOptions = {}) =>
      request(main.url, 'GET', `/main/login/${userId}`, options);

    it("answers the user's own token in every transport, and the admin token", async () => {
      const token = await mintUserToken(alice.userId);
      const transports: RequestOptions[] = [
        { headers: { authorization: `Bearer ${token}` } },
        { headers: { cookie: `kubescaler_session=${token}` } },
        { auth: { token, via: 'query' as const } },
        { headers: admin },
      ];
      for (const options of transports) {
        const res = await login(alice.userId, options);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body, { userId: alice.userId, activeProfiles: [] });
      }
    });

    it('shows the live profiles only to their user', async () => {
      const live = await openStream(stream.url, alice);
      try {
        const own = await login(alice.userId);
        assert.equal(own.body.activeProfiles.length, 1);
        const other = await login(alice.userId, { auth: { userId: bob.userId } });
        assert.equal(other.status, 403);
        assert.equal(other.body.code, 'FORBIDDEN');
        assert.equal(JSON.stringify(other.body).includes(alice.profileId), false, 'reveals nothing of the user');
      } finally {
        await live.close();
      }
    });

    it('answers 401 with a Bearer challenge without a token or with a bad one', async () => {
      const none = await login(alice.userId, { auth: 'none' });
      assert.equal(none.status, 401);
      assert.equal(none.body.code, 'UNAUTHENTICATED');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      const bad = await login(alice.userId, { auth: { token: 'abc.def.ghi' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      const wrongAdmin = await login(alice.userId, { headers: { authorization: 'Bearer not-the-admin-token' } });
      assert.equal(wrongAdmin.status, 401);
    });

    it('checks the id first (400), and a valid token for an unknown user finds nobody (404)', async () => {
      const malformed = await login('nope', { auth: 'none' });
      assert.deepEqual([malformed.status, malformed.body.code], [400, 'INVALID_ID']);
      const stranger = randomUUID();
      const unknown = await login(stranger);
      assert.deepEqual([unknown.status, unknown.body.code], [404, 'USER_NOT_FOUND']);
      assert.equal((await login(stranger, { auth: 'none' })).status, 401, 'nobody learns which users exist');
    });
  });

  describe('the lists of every user and pair', () => {
    it('are for the admin token only: 401 without a token, 403 for a user', async () => {
      for (const path of DIRECTORY) {
        const none = await request(main.url, 'GET', path);
        assert.deepEqual([none.status, none.body.code], [401, 'UNAUTHENTICATED'], path);
        assert.equal(none.headers.get('www-authenticate'), 'Bearer');
        const user = await request(main.url, 'GET', path, { auth: { userId: alice.userId } });
        assert.deepEqual([user.status, user.body.code], [403, 'FORBIDDEN'], path);
        assert.equal((await request(main.url, 'GET', path, { headers: admin })).status, 200, path);
      }
    });

    it('are open where development sign-in is on (anyone may be anyone there anyway)', async () => {
      for (const path of DIRECTORY) assert.equal((await request(devMain.url, 'GET', path)).status, 200, path);
      const profiles = await request(devMain.url, 'GET', '/main/profiles?limit=1000');
      assert.ok(profiles.body.items.some((p: { id: string }) => p.id === alice.profileId));
    });
  });

  describe('GET /main/me', () => {
    it("answers the signed-in user's name and own profiles", async () => {
      const res = await request(main.url, 'GET', '/main/me', { auth: { userId: alice.userId, via: 'cookie' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.userId, alice.userId);
      assert.equal(res.body.name, 'user 0');
      assert.deepEqual(
        res.body.profiles.map((p: { id: string }) => p.id),
        [alice.profileId],
      );
      assert.ok(Date.parse(res.body.expiresAt) > Date.now());
    });

    it('needs a user: 401 anonymous, 403 for the admin token', async () => {
      assert.equal((await request(main.url, 'GET', '/main/me')).status, 401);
      assert.equal((await request(main.url, 'GET', '/main/me', { headers: admin })).status, 403);
    });
  });

  describe('rate limits per client (X-Real-IP) and minute', () => {
    let limitedMain: AppProcess;
    let limitedStream: AppProcess;
    const LOW = {
      RATE_LIMIT_SIGN_IN_PER_MINUTE: '2',
      RATE_LIMIT_LOGIN_PER_MINUTE: '2',
      RATE_LIMIT_STREAM_OPENS_PER_MINUTE: '2',
    };
    before(async () => {
      [limitedMain, limitedStream] = await Promise.all([
        startApp('main', { BASE_URL: base.url, ADMIN_TOKEN, AUTH_DEV_LOGIN: 'true', ...LOW }),
        startApp('stream', { BASE_URL: base.url, STREAM_EVENTS_PER_SECOND: '20', STREAM_EVENT_BYTES: '256', ...LOW }),
      ]);
    });
    after(async () => {
      await Promise.all([limitedMain, limitedStream].map((app) => app?.stop()));
    });
    const client = (ip: string) => ({ 'x-real-ip': ip });
    const assertLimited = (res: { status: number; headers: Headers; body: any }, label: string) => {
      assert.equal(res.status, 429, `${label}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'RATE_LIMITED', label);
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `${label}: Retry-After ${retryAfter}`);
    };

    it('refuses a third sign-in in a minute 429 with Retry-After, and counts other clients apart', async () => {
      const signIn = (ip: string) =>
        request(limitedMain.url, 'POST', '/main/dev-login', { body: { userId: alice.userId }, headers: client(ip) });
      for (let i = 0; i < 2; i++) assert.equal((await signIn('198.51.100.1')).status, 200);
      assertLimited(await signIn('198.51.100.1'), 'sign-in');
      assert.equal((await signIn('198.51.100.2')).status, 200, 'another client');
    });

    it('refuses a third live-profile look-up in a minute 429, refused look-ups counted too', async () => {
      const login = (auth: RequestOptions['auth']) =>
        request(limitedMain.url, 'GET', `/main/login/${alice.userId}`, { auth, headers: client('198.51.100.3') });
      assert.equal((await login('none')).status, 401);
      assert.equal((await login('auto')).status, 200);
      assertLimited(await login('auto'), 'look-up');
    });

    it('refuses a third stream open in a minute 429 as JSON, and as a retrying refused event to an EventSource', async () => {
      const open = (headers: Record<string, string>) =>
        request(limitedStream.url, 'GET', streamPath(alice), {
          auth: 'none',
          headers: { ...client('198.51.100.4'), ...headers },
        });
      assert.equal((await open({})).status, 401);
      assert.equal((await open({})).status, 401);
      assertLimited(await open({}), 'stream open');
      const standard = await open({ accept: 'text/event-stream' });
      assert.equal(standard.status, 200, 'a standard EventSource never meets a refusal that ends it');
      assert.match(String(standard.body), /event: refused\ndata: \{[^\n]*"code":"RATE_LIMITED"/);
      assert.match(String(standard.body), /^retry: \d+/);
    });
  });

  describe('signing out', () => {
    it('revokes the session: a copy of the cookie is refused afterwards by main and by stream', async () => {
      const signIn = await request(devMain.url, 'POST', '/main/dev-login', { body: { userId: bob.userId } });
      assert.equal(signIn.status, 200);
      const cookie = setCookie(signIn.headers)!;
      const session = { cookie: `${cookie.name}=${cookie.value}` };
      assert.equal((await request(devMain.url, 'GET', '/main/me', { headers: session })).status, 200);
      const out = await request(devMain.url, 'POST', '/main/logout', { headers: session });
      assert.equal(out.status, 204);
      assert.equal(setCookie(out.headers)?.value, '', 'the cookie is cleared too');
      for (const [app, path] of [
        [devMain, '/main/me'],
        [main, '/main/me'],
        [stream, streamPath(bob)],
      ] as const) {
        const res = await request(app.url, 'GET', path, { headers: session });
        assert.equal(res.status, 401, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.details?.reason, 'revoked', path);
      }
      assert.equal(
        (await request(main.url, 'GET', '/main/me', { auth: { userId: bob.userId } })).status,
        200,
        "the user's other tokens still work",
      );
    });
  });

  describe('the web client', () => {
    it('is served with a strict Content-Security-Policy, nosniff, no framing and no Referer', async () => {
      for (const path of ['/', `/index/${alice.userId}/${alice.profileId}`, '/js/landing.js', '/style.css', '/nope']) {
        const res = await request(stream.url, 'GET', path);
        const csp = res.headers.get('content-security-policy') ?? '';
        assert.match(csp, /(^|; )default-src 'self'(;|$)/, path);
        assert.match(csp, /(^|; )script-src 'self'(;|$)/, path);
        assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/, path);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
        assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      }
    });
  });

  describe('tokens signed with the right secret but carrying bad claims', () => {
    const signed = (claims: Record<string, unknown>) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(process.env.AUTH_JWT_SECRET!));

    it('refuses an exp beyond any date 401 everywhere: /main/me, /main/login and /stream — never a 500', async () => {
      const token = await signed({ sub: alice.userId, iat: Math.floor(Date.now() / 1000), exp: 1e15 });
      const auth = { token };
      for (const [app, path] of [
        [main, '/main/me'],
        [main, `/main/login/${alice.userId}`],
        [stream, streamPath(alice)],
      ] as const) {
        const res = await request(app.url, 'GET', path, { auth });
        assert.equal(res.status, 401, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'UNAUTHENTICATED');
      }
    });

    it('refuses a user id that is not a UUID 401 before it reaches base: padded, a query, a path', async () => {
      const exp = Math.floor(Date.now() / 1000) + 600;
      for (const sub of [` ${alice.userId}`, '?limit=1', `${alice.userId}/profiles`, '../profiles']) {
        const res = await request(main.url, 'GET', '/main/me', { auth: { token: await signed({ sub, exp }) } });
        assert.equal(res.status, 401, `${JSON.stringify(sub)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'UNAUTHENTICATED');
      }
    });
  });

  describe('development sign-in', () => {
    it('does not exist where it is off: 404 as an unknown route', async () => {
      for (const method of ['GET', 'POST']) {
        const res = await request(main.url, method, '/main/dev-login', {
          body: method === 'POST' ? { userId: alice.userId } : undefined,
        });
        assert.deepEqual([res.status, res.body.code], [404, 'ROUTE_NOT_FOUND'], method);
        assert.equal(res.headers.get('set-cookie'), null);
      }
    });

    it('sets an HttpOnly, SameSite=Lax, Path=/ session cookie for an existing user, for 8 hours', async () => {
      const res = await request(devMain.url, 'POST', '/main/dev-login', { body: { userId: alice.userId } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.userId, alice.userId);
      assert.equal(res.body.name, 'user 0');
      const cookie = setCookie(res.headers);
      assert.ok(cookie);
      assert.equal(cookie.name, 'kubescaler_session');
      assert.deepEqual(
        [...cookie.attributes.keys()].sort(),
        ['httponly', 'max-age', 'path', 'samesite'],
        'no Secure over plain HTTP',
      );
      assert.equal(cookie.attributes.get('path'), '/');
      assert.equal(cookie.attributes.get('samesite'), 'Lax');
      assert.equal(cookie.attributes.get('max-age'), String(8 * 3600));
      const claims = decodeJwt(cookie.value);
      assert.equal(claims.sub, alice.userId);
      assert.equal(claims.exp! - claims.iat!, 8 * 3600);
      assert.equal(new Date(claims.exp! * 1000).toISOString(), res.body.expiresAt);
      assert.ok(!JSON.stringify(res.body).includes(cookie.value), 'the token stays out of reach of scripts');

      // The cookie is the user's session: main knows it, and the user's stream opens with it …
      const me = await request(devMain.url, 'GET', '/main/me', {
        headers: { cookie: `kubescaler_session=${cookie.value}` },
      });
      assert.equal(me.body.userId, alice.userId);
      const client = await openStream(stream.url, alice, { auth: { token: cookie.value, via: 'cookie' } });
      await client.close();
      // … but nobody else's.
      await refusedStream(stream.url, bob, 403, 'FORBIDDEN', { auth: { token: cookie.value, via: 'cookie' } });
    });

    it('marks the cookie Secure behind a TLS-terminating ingress', async () => {
      const res = await request(devMain.url, 'POST', '/main/dev-login', {
        body: { userId: bob.userId },
        headers: { 'x-forwarded-proto': 'https' },
      });
      assert.equal(res.status, 200);
      assert.ok(setCookie(res.headers)?.attributes.has('secure'));
    });

    it('refuses unknown users and bad bodies without setting a cookie', async () => {
      const cases: Array<[RequestOptions, number, string]> = [
        [{ body: { userId: randomUUID() } }, 404, 'USER_NOT_FOUND'],
        [{ body: { userId: 'nope' } }, 400, 'VALIDATION_FAILED'],
        [{ body: {} }, 400, 'VALIDATION_FAILED'],
        [{ body: { userId: alice.userId, admin: true } }, 400, 'VALIDATION_FAILED'],
        [{ rawBody: alice.userId, headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
        [{ rawBody: '{"userId":', headers: { 'content-type': 'application/json' } }, 400, 'VALIDATION_FAILED'],
      ];
      for (const [options, status, code] of cases) {
        const res = await request(devMain.url, 'POST', '/main/dev-login', options);
        assert.deepEqual([res.status, res.body.code], [status, code], JSON.stringify(options));
        assert.equal(res.headers.get('set-cookie'), null);
      }
    });

    it('says it is on (GET), and signing out clears the cookie', async () => {
      const info = await request(devMain.url, 'GET', '/main/dev-login');
      assert.deepEqual(info.body, { enabled: true, sessionTtlSeconds: 8 * 3600 });
      const out = await request(main.url, 'POST', '/main/logout');
      assert.equal(out.status, 204);
      const cookie = setCookie(out.headers);
      assert.equal(cookie?.value, '');
      assert.equal(cookie?.attributes.get('max-age'), '0');
    });

    it('lets a browser session open its stream with the cookie the way the web client does', async () => {
      const signIn = await request(devMain.url, 'POST', '/main/dev-login', { body: { userId: bob.userId } });
      const cookie = `kubescaler_session=${setCookie(signIn.headers)!.value}`;
      const client = await SseClient.open(stream.url, streamPath(bob), { headers: { cookie } });
      assert.equal(client.status, 200);
      await client.waitForEvent('hello');
      await client.close();
    });
  });
});
