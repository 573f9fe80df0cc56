import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { pairKeys } from '@app/lock';
import { mintUserToken, request, testAuthSecret } from '@app/testing';
import { SseClient, type SseClientOptions } from '../support/sse-client.js';
import {
  gaugesSettle,
  helloOf,
  Metrics,
  openStream,
  type Pair,
  refusedStream,
  streamPath,
  streamSuite,
} from '../support/stream-stack.js';

const TRANSPORTS = ['header', 'cookie', 'query'] as const;

describe("stream authorization: only the user's own token opens the user's stream", () => {
  const suite = streamSuite('streamauth', { pairs: 2 });
  let alice: Pair;
  let bob: Pair;
  /** Every token this file sent in a query string: none may show up in the app's output. */
  const queryTokens: string[] = [];

  const rejected = async (reason: string) =>
    (await Metrics.scrape(suite.stream.url)).value('stream_connections_rejected_total', { reason });

  /** The pair's lock, launched record and fencing counter are all absent: nothing touched the lock. */
  const assertUntouched = async (pair: Pair, what: string) => {
    const keys = pairKeys(pair.userId, pair.profileId);
    const present = await Promise.all(
      [keys.lock, keys.launched, keys.fence].map((key) => suite.stack.inspect.exists(key)),
    );
    assert.deepEqual(present, [0, 0, 0], `${what}: lock, launched record and fence of the pair are absent`);
  };

  /** A legitimate open of `pair` succeeds at once (the pair is free), then closes. */
  const opensAtOnce = async (pair: Pair, options?: SseClientOptions) => {
    const started = performance.now();
    const wallFrom = Date.now();
    const client = await openStream(suite.stream.url, pair, options);
    const elapsedMs = performance.now() - started;
    const wallTo = Date.now();
    await client.close();
    await gaugesSettle(suite.stream.url, 0);
    return { hello: helloOf(client), elapsedMs, wallFrom, wallTo };
  };

  /**
   * The pair's first fencing token is the pod's clock at the grant (the lock servers' floor), so
   * a pair no refusal touched (asserted key by key before) gets one from the open's own moment.
   */
  const assertFirstFence = ({ hello, wallFrom, wallTo }: Awaited<ReturnType<typeof opensAtOnce>>) =>
    assert.ok(
      hello.fencingToken >= wallFrom && hello.fencingToken <= wallTo,
      `fencing token ${hello.fencingToken} is the clock of the grant (${wallFrom}–${wallTo})`,
    );

  before(() => {
    [alice, bob] = suite.pairs as [Pair, Pair];
  });

  it("opens a stream with the user's own token in each transport: header, cookie and query", async () => {
    for (const via of TRANSPORTS) {
      const token = await mintUserToken(alice.userId);
      if (via === 'query') queryTokens.push(token);
      const client = await openStream(suite.stream.url, alice, { auth: { token, via } });
      assert.equal(client.status, 200);
      await client.waitUntil(() => client.messages >= 2, 5000, `messages over ${via}`);
      await client.close();
      await gaugesSettle(suite.stream.url, 0);
    }
  });

  it('answers 401 with WWW-Authenticate: Bearer before any byte, and leaves the pair free', async () => {
    await assertUntouched(bob, 'before');
    const before = await rejected('unauthenticated');
    const secret = testAuthSecret()!;
    const hs256 = (claims: Record<string, unknown>, key = secret) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key));
    const soon = Math.floor(Date.now() / 1000) + 600;
    const cases: Array<[string, SseClientOptions['auth'], string]> = [
      ['no token at all', 'none', 'Bearer'],
      ['an empty bearer header', { token: '' }, 'Bearer error="invalid_token"'],
      ['not a JWT', { token: 'not-a-jwt' }, 'Bearer error="invalid_token"'],
      [
        'an expired token',
        { token: await mintUserToken(bob.userId, { ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) }) },
        'Bearer error="invalid_token"',
      ],
      [
        'a token not valid yet',
        { token: await hs256({ sub: bob.userId, exp: soon, nbf: soon - 60 }), via: 'cookie' },
        'Bearer error="invalid_token"',
      ],
      [
        'another secret',
        { token: await hs256({ sub: bob.userId, exp: soon }, 'x'.repeat(40)), via: 'query' },
        'Bearer error="invalid_token"',
      ],
      [
        'alg none',
        { token: new UnsecuredJWT({ sub: bob.userId, exp: soon }).encode() },
        'Bearer error="invalid_token"',
      ],
      ['no sub', { token: await hs256({ exp: soon }) }, 'Bearer error="invalid_token"'],
    ];
    for (const [what, auth, challenge] of cases) {
      if (typeof auth === 'object' && auth.via === 'query' && auth.token) queryTokens.push(auth.token);
      const { body, headers } = await refusedStream(suite.stream.url, bob, 401, 'UNAUTHENTICATED', { auth });
      assert.equal(headers['www-authenticate'], challenge, what);
      if (typeof auth === 'object' && auth.token) assert.ok(!body.message.includes(auth.token), `${what}: no echo`);
      await assertUntouched(bob, what);
    }
    assert.equal((await rejected('unauthenticated')) - before, cases.length);
    assertFirstFence(await opensAtOnce(bob));
  });

  it("answers 403 FORBIDDEN for another user's valid token, in every transport, and leaves the pair free", async () => {
    const fresh = (await suite.stack.createPairs(1))[0]!;
    const before = await rejected('forbidden');
    for (const via of TRANSPORTS) {
      const token = await mintUserToken(alice.userId);
      if (via === 'query') queryTokens.push(token);
      const { body } = await refusedStream(suite.stream.url, fresh, 403, 'FORBIDDEN', { auth: { token, via } });
      assert.doesNotMatch(body.message, new RegExp(alice.userId), 'names nobody');
      await assertUntouched(fresh, via);
    }
    assert.equal((await rejected('forbidden')) - before, TRANSPORTS.length);
    assertFirstFence(await opensAtOnce(fresh));
  });

  it('decides on the token after a malformed id, but before the pair is looked up or its lock is tried', async () => {
    const stranger = randomUUID();
    // 400 first: the id is malformed whoever asks.
    await refusedStream(suite.stream.url, { userId: 'nope', profileId: alice.profileId }, 400, 'INVALID_ID', {
      auth: 'none',
    });
    // An anonymous client cannot learn whether a user exists (401, not 404) …
    await refusedStream(suite.stream.url, { userId: stranger, profileId: alice.profileId }, 401, 'UNAUTHENTICATED', {
      auth: 'none',
    });
    // … nor whether a pair is bound (403 FORBIDDEN for another user's token, not NOT_BOUND).
    await refusedStream(suite.stream.url, { userId: alice.userId, profileId: bob.profileId }, 403, 'FORBIDDEN', {
      auth: { userId: bob.userId },
    });
    // With the right token the usual answers follow.
    await refusedStream(suite.stream.url, { userId: stranger, profileId: alice.profileId }, 404, 'USER_NOT_FOUND');
    await refusedStream(suite.stream.url, { userId: alice.userId, profileId: bob.profileId }, 403, 'NOT_BOUND');

    // A live pair refuses a stranger with 401, not 409: the lock is never asked.
    const live = await openStream(suite.stream.url, alice);
    await refusedStream(suite.stream.url, alice, 401, 'UNAUTHENTICATED', { auth: 'none' });
    await refusedStream(suite.stream.url, alice, 403, 'FORBIDDEN', { auth: { userId: bob.userId } });
    await refusedStream(suite.stream.url, alice, 409, 'PROFILE_IN_USE');
    await live.close();
    await gaugesSettle(suite.stream.url, 0);

    // With base unreachable a stranger still gets 401 (the binding is never checked), the user 503.
    const cut = await suite.stack.startStream({
      BASE_URL: 'http://127.0.0.1:9',
      POD_NAME: 'no-base',
    });
    try {
      await refusedStream(cut.url, alice, 401, 'UNAUTHENTICATED', { auth: 'none' });
      await refusedStream(cut.url, alice, 503, 'DEPENDENCY_UNAVAILABLE');
    } finally {
      await cut.stop();
    }
  });

  it('keeps streaming after the token expires: the lock is the session', async () => {
    const pair = (await suite.stack.createPairs(1))[0]!;
    // Valid for 2 more seconds (plus the 5 s clock tolerance).
    const token = await mintUserToken(pair.userId, { ttlSeconds: 60, now: new Date(Date.now() - 58_000) });
    const client = await openStream(suite.stream.url, pair, { auth: { token } });
    await new Promise((done) => setTimeout(done, 8500));
    const seen = client.messages;
    await client.waitUntil(() => client.messages > seen + 5, 5000, 'events after the token expired');
    assert.ok(!client.isClosed && !client.ended, 'the stream is still open');
    assert.deepEqual(
      client.eventNames().filter((name) => name !== 'message'),
      ['hello'],
    );
    // The same token no longer opens anything.
    await client.close();
    await gaugesSettle(suite.stream.url, 0);
    const again = await refusedStream(suite.stream.url, pair, 401, 'UNAUTHENTICATED', { auth: { token } });
    assert.match(again.body.message, /expired/);
  });

  it('leaves 0 locks held after 1,000 anonymous opens in a row, and the pair opens at once afterwards', async () => {
    const target = (await suite.stack.createPairs(1))[0]!;
    const before = await rejected('unauthenticated');
    const started = performance.now();
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const client = await SseClient.open(suite.stream.url, streamPath(target), { auth: 'none' });
      await client.waitForEnd();
      statuses.set(client.status, (statuses.get(client.status) ?? 0) + 1);
      assert.equal(client.events.length, 0);
      await client.close();
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  1,000 anonymous opens in a row: ${seconds.toFixed(2)} s (${((seconds * 1000) / 1000).toFixed(2)} ms each)`,
    );
    assert.deepEqual([...statuses], [[401, 1000]]);
    assert.equal((await rejected('unauthenticated')) - before, 1000);
    assert.deepEqual(await suite.stack.keys('lock'), [], 'no lock key in Redis');
    assert.deepEqual(await suite.stack.keys('launched'), [], 'no launched record');
    await assertUntouched(target, 'after 1,000 anonymous opens');
    const metrics = await Metrics.scrape(suite.stream.url);
    assert.deepEqual([metrics.active, metrics.locksHeld], [0, 0]);
    const opened = await opensAtOnce(target);
    const { elapsedMs } = opened;
    assertFirstFence(opened);
    console.log(`  then the pair's own user opened it in ${elapsedMs.toFixed(1)} ms`);
  });

  it('never writes a token into its output or echoes one from the query string', async () => {
    const token = await mintUserToken(alice.userId);
    queryTokens.push(token);
    const missing = await request(suite.stream.url, 'GET', `/nowhere?access_token=${token}`);
    assert.equal(missing.status, 404);
    assert.ok(!JSON.stringify(missing.body).includes(token), JSON.stringify(missing.body));
    assert.match(missing.body.message, /access_token=\[redacted\]/);
    assert.ok(queryTokens.length >= 4);
    for (const sent of queryTokens) assert.ok(!suite.stream.output().includes(sent), 'a token in the app output');
  });
});
