import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, pairKeys } from '@app/lock';
import type { AppProcess, RedisServer } from '@app/testing';
import type { SseClient } from '../support/sse-client.js';
import {
  expectGauges,
  FAST_LOCK_ENV,
  FAST_LOCK_RENEW_MS,
  FAST_LOCK_TTL_MS,
  gaugesSettle,
  LIGHT_EVENTS_ENV,
  openStream,
  type Pair,
  refusedStream,
  StreamStack,
} from '../support/stream-stack.js';
import { eventually } from '@app/testing';

/** Waits until `client` has received a message the server generated `ms` after `since` (epoch ms). */
const streamsPast = (client: SseClient, since: number, ms: number) =>
  client.waitUntil(() => (client.lastMessage?.timestamp ?? 0) >= since + ms, ms + 2000, `a message ${ms} ms later`);

describe('stream with three independent Redis as the Redlock quorum', () => {
  let stack: StreamStack;
  let members: RedisServer[];
  let memberClients: Redis[];
  let stream: AppProcess;
  let pairs: Pair[];

  const holders = async (pair: Pair) => {
    const { lock } = pairKeys(pair.userId, pair.profileId);
    const found = await Promise.all(
      memberClients.map((client) => (client.status === 'ready' ? client.exists(lock) : 0)),
    );
    return found.reduce((sum: number, n) => sum + n, 0);
  };

  before(async () => {
    stack = await StreamStack.start('streamquorum');
    members = await Promise.all([stack.extraRedisServer(), stack.extraRedisServer(), stack.extraRedisServer()]);
    memberClients = members.map((member, i) =>
      createRedisClient(member.url, { commandTimeoutMs: 1000, name: `member-${i}` }),
    );
    await Promise.all(memberClients.map((client) => connectRedis(client)));
    [stream, pairs] = await Promise.all([
      stack.startStream({
        ...FAST_LOCK_ENV,
        ...LIGHT_EVENTS_ENV,
        REDIS_LOCK_URLS: members.map((member) => member.url).join(','),
      }),
      stack.createPairs(5),
    ]);
  });

  after(async () => {
    await Promise.all((memberClients ?? []).map(closeRedis));
    await stack?.stop();
  });

  it('locks the pair on all three members when all are up', async () => {
    const client = await openStream(stream.url, pairs[0]!);
    assert.equal(await holders(pairs[0]!), 3);
    await client.close();
    await gaugesSettle(stream.url, 0);
    await eventually(async () => assert.equal(await holders(pairs[0]!), 0), 1000);
  });

  it('acquires and keeps streaming past the lease with one member down', async (t) => {
    const before = await openStream(stream.url, pairs[0]!);
    await members[2]!.stop('SIGKILL');
    const downAt = Date.now();
    const during = await openStream(stream.url, pairs[1]!);
    assert.equal(await holders(pairs[1]!), 2, 'held on the two live members');
    await expectGauges(stream.url, 2);
    // Both leases must have been renewed on the remaining majority to still be streaming.
    const span = FAST_LOCK_TTL_MS + FAST_LOCK_RENEW_MS;
    await Promise.all([streamsPast(before, downAt, span), streamsPast(during, downAt, span)]);
    t.diagnostic(`streams kept their locks for ${span} ms with 2 of 3 members`);
    for (const client of [before, during]) assert.ok(!client.eventNames().includes('lock-lost'));
    await expectGauges(stream.url, 2);
    await Promise.all([before.close(), during.close()]);
    await gaugesSettle(stream.url, 0);
  });

  it('fails closed with two members down: new streams get 503, live ones lock-lost', async (t) => {
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
  });

  it('streams again once a majority is back', async () => {
    await members[1]!.start();
    await members[2]!.start();
    const client = await eventually(() => openStream(stream.url, pairs[4]!), 3000, 100);
    await expectGauges(stream.url, 1);
    await client.close();
    await gaugesSettle(stream.url, 0);
  });
});
