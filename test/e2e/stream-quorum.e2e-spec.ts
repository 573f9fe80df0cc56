import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, pairKeys } from '@app/lock';
import { type AppProcess, RedisServer, request, startApp } from '@app/testing';
import type { SseClient } from '../support/sse-client.js';
import {
  expectGauges,
  FAST_LOCK_RENEW_MS,
  FAST_LOCK_TTL_MS,
  gaugesSettle,
  openStream,
  type Pair,
  refusedStream,
  StreamStack,
} from '../support/stream-stack.js';
import { eventually } from '@app/testing';

/** Waits until `client` has received a message the server generated `ms` after `since` (epoch ms). */
const streamsPast = (client: SseClient, since: number, ms: number) =>
  client.waitUntil(() => (client.lastMessage?.timestamp ?? 0) >= since + ms, ms + 2000, `a message ${ms} ms later`);

describe('stream and main with three independent Redis as the Redlock quorum', () => {
  let stack: StreamStack;
  let members: RedisServer[];
  let memberClients: Redis[];
  let stream: AppProcess;
  let main: AppProcess;
  let pairs: Pair[];

  /** What `/main/login` says is live for `pair`'s user: the pods, or the error code. */
  const loginSays = async (pair: Pair) => {
    const res = await request(main.url, 'GET', `/main/login/${pair.userId}`);
    if (res.status !== 200) return `${res.status} ${res.body.code}`;
    return res.body.activeProfiles.map((active: { profileId: string; pod: string }) => {
      assert.equal(active.profileId, pair.profileId);
      return active.pod;
    });
  };

  const holders = async (pair: Pair) => {
    const { lock } = pairKeys(pair.userId, pair.profileId);
    const found = await Promise.all(
      memberClients.map((client) => (client.status === 'ready' ? client.exists(lock) : 0)),
    );
    return found.reduce((sum: number, n) => sum + n, 0);
  };

  before(async () => {
    stack = await StreamStack.start('streamquorum');
    members = await stack.lockServers(3);
    memberClients = members.map((member, i) =>
      createRedisClient(member.url, { commandTimeoutMs: 1000, name: `member-${i}` }),
    );
    await Promise.all(memberClients.map((client) => connectRedis(client)));
    // REDIS_URL names the first member, as the production overlay used to make it the one
    // Redis for fencing counters, launched records and main's reads.
    const redisEnv = { REDIS_URL: members[0]!.url, REDIS_LOCK_URLS: members.map((member) => member.url).join(',') };
    [stream, main, pairs] = await Promise.all([
      stack.startStream(redisEnv),
      startApp('main', { BASE_URL: stack.base.url, ...redisEnv }),
      stack.createPairs(5),
    ]);
  });

  after(async () => {
    await Promise.all((memberClients ?? []).map(closeRedis));
    await main?.stop();
    await stack?.stop();
  });

  it('locks the pair and writes its launched record on all three members when all are up', async () => {
    const client = await openStream(stream.url, pairs[0]!);
    assert.equal(await holders(pairs[0]!), 3);
    const { launched } = pairKeys(pairs[0]!.userId, pairs[0]!.profileId);
    // Admitted once a majority has it; the third copy lands a moment later.
    await eventually(
      async () =>
        assert.deepEqual(await Promise.all(memberClients.map((member) => member.exists(launched))), [1, 1, 1]),
      1000,
    );
    assert.deepEqual(await loginSays(pairs[0]!), ['stream-1']);
    await client.close();
    await gaugesSettle(stream.url, 0);
    await eventually(async () => assert.equal(await holders(pairs[0]!), 0), 1000);
    assert.deepEqual(await loginSays(pairs[0]!), []);
  });

  it('keeps every stream, admits new ones and answers login truthfully without the member that was REDIS_URL', async (t) => {
    const before = await openStream(stream.url, pairs[0]!);
    await members[0]!.stop('SIGKILL');
    const downAt = Date.now();
    const during = await openStream(stream.url, pairs[1]!);
    assert.equal(await holders(pairs[1]!), 2, 'held on the two live members');
    await expectGauges(stream.url, 2);
    assert.deepEqual(await loginSays(pairs[0]!), ['stream-1'], 'login still sees the stream opened before');
    assert.deepEqual(await loginSays(pairs[1]!), ['stream-1'], 'login sees the stream opened during the outage');
    assert.deepEqual(await loginSays(pairs[2]!), [], 'login reports nothing live for an idle pair');
    assert.equal((await request(stream.url, 'GET', '/health/ready')).status, 200, 'a majority keeps the pod ready');
    // Both leases must have been renewed on the remaining majority to still be streaming.
    const span = FAST_LOCK_TTL_MS + FAST_LOCK_RENEW_MS;
    await Promise.all([streamsPast(before, downAt, span), streamsPast(during, downAt, span)]);
    t.diagnostic(`streams kept their locks for ${span} ms with 2 of 3 members`);
    for (const client of [before, during]) assert.ok(!client.eventNames().includes('lock-lost'));
    await expectGauges(stream.url, 2);
    await Promise.all([before.close(), during.close()]);
    await gaugesSettle(stream.url, 0);
  });

  it('fails closed with two members down: new streams get 503, live ones lock-lost, login 503', async (t) => {
    const live = await openStream(stream.url, pairs[2]!);
    await members[1]!.stop('SIGKILL');
    const downAt = performance.now();
    const refusal = await refusedStream(stream.url, pairs[3]!, 503, 'DEPENDENCY_UNAVAILABLE');
    await live.waitForEvent('lock-lost', FAST_LOCK_RENEW_MS + 2000);
    await live.waitForEnd(1000);
    const lostMs = live.endedAt! - downAt;
    t.diagnostic(
      `2 of 3 members down: new stream refused (503) in ${refusal.elapsedMs.toFixed(1)} ms; live stream lock-lost after ${lostMs.toFixed(0)} ms`,
    );
    assert.ok(refusal.elapsedMs < 1000, `503 took ${refusal.elapsedMs.toFixed(0)} ms`);
    assert.ok(lostMs <= FAST_LOCK_RENEW_MS + 1000, `lock-lost after ${lostMs.toFixed(0)} ms`);
    await live.close();
    await gaugesSettle(stream.url, 0);
    assert.equal(await holders(pairs[3]!), 0, 'a refused acquisition leaves no minority lock behind');
    assert.equal(await loginSays(pairs[2]!), '503 DEPENDENCY_UNAVAILABLE');
  });

  it('streams again a lease after a majority is back, the restarted members having sat out their lease', async (t) => {
    await members[0]!.start();
    await members[1]!.start();
    const restartedAt = performance.now();
    await refusedStream(stream.url, pairs[4]!, 503, 'DEPENDENCY_UNAVAILABLE');
    const client = await eventually(() => openStream(stream.url, pairs[4]!), FAST_LOCK_TTL_MS + 3000, 100);
    const afterMs = performance.now() - restartedAt;
    t.diagnostic(
      `streaming again ${afterMs.toFixed(0)} ms after two members came back empty (lease ${FAST_LOCK_TTL_MS} ms)`,
    );
    assert.ok(afterMs >= FAST_LOCK_TTL_MS - 100, `a restarted member voted after ${afterMs.toFixed(0)} ms`);
    await expectGauges(stream.url, 1);
    assert.deepEqual(await loginSays(pairs[4]!), ['stream-1']);
    await client.close();
    await gaugesSettle(stream.url, 0);
  });
});

describe('stream and main given a doubtful list of lock servers', () => {
  let servers: RedisServer[];

  before(async () => {
    servers = await Promise.all([RedisServer.start(), RedisServer.start()]);
  });

  after(async () => {
    await Promise.all((servers ?? []).map((server) => server.dispose()));
  });

  it('refuses to start when one lock server is named twice, however it is spelt', async () => {
    const [one, two] = servers.map((server) => server.url);
    const twice = `${one},${two},${one!.replace('127.0.0.1', 'localhost')}/1`;
    for (const app of ['stream', 'main'] as const) {
      await assert.rejects(startApp(app, { REDIS_LOCK_URLS: twice }), (error: Error) => {
        assert.match(error.message, /exited during start-up/);
        assert.match(error.message, /REDIS_LOCK_URLS: names the server 127\.0\.0\.1:\d+ twice/);
        return true;
      });
    }
  });

  it('starts with an even number of lock servers but says once that it buys nothing', async () => {
    const stream = await startApp('stream', { REDIS_LOCK_URLS: servers.map((server) => server.url).join(',') });
    try {
      assert.equal((await request(stream.url, 'GET', '/health/live')).status, 200);
      const warnings = stream.output().match(/REDIS_LOCK_URLS names 2 lock servers/g) ?? [];
      assert.equal(warnings.length, 1, stream.output());
    } finally {
      await stream.stop();
    }
  });
});
