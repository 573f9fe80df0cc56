import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient } from '@app/lock';
import { RedisServer } from '@app/testing';
import { pairEventKeys } from './keys.js';
import { lastPairEntry, NO_ENTRY, parseChannelMessage, publishPairEvent, readPairHistory } from './pair-events.js';

describe('pair events in Redis', () => {
  const bounds = { maxEvents: 3, maxAgeMs: 60_000 };
  let server: RedisServer;
  let redis: Redis;

  before(async () => {
    server = await RedisServer.start();
    redis = createRedisClient(server.url, { commandTimeoutMs: 1000, name: 'events-test' });
    await connectRedis(redis);
  });

  after(async () => {
    await closeRedis(redis);
    await server.dispose();
  });

  const pair = () => ({ userId: randomUUID(), profileId: randomUUID() });

  it('publishes to the pair channel and history in the same order', async () => {
    const { userId, profileId } = pair();
    const subscriber = redis.duplicate();
    await connectRedis(subscriber);
    const received: string[] = [];
    try {
      await subscriber.subscribe(pairEventKeys(userId, profileId).channel);
      subscriber.on('message', (_channel: string, message: string) => received.push(message));
      const ids = [];
      for (const n of [1, 2]) ids.push(await publishPairEvent(redis, userId, profileId, 'tick', `{"n":${n}}`, bounds));

      const history = await readPairHistory(redis, userId, profileId, NO_ENTRY, 10);
      assert.deepEqual(
        history.events.map((e) => [e.id, e.event, e.data]),
        [
          [ids[0], 'tick', '{"n":1}'],
          [ids[1], 'tick', '{"n":2}'],
        ],
      );
      assert.equal(history.lost, false);
      assert.equal(await lastPairEntry(redis, userId, profileId), ids[1]);
      while (received.length < 2) await new Promise((done) => setTimeout(done, 10));
      assert.deepEqual(
        received.map((m) => parseChannelMessage(m)),
        history.events.map((event) => ({ kind: 'event', event })),
      );
    } finally {
      await closeRedis(subscriber);
    }
  });

  it('keeps at most maxEvents and tells a resume from before the trimmed ones that events were lost', async () => {
    const { userId, profileId } = pair();
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push(await publishPairEvent(redis, userId, profileId, '', String(n), bounds));

    const fromStart = await readPairHistory(redis, userId, profileId, ids[0]!, 10);
    assert.deepEqual(
      fromStart.events.map((e) => e.data),
      ['2', '3', '4'],
    );
    assert.equal(fromStart.lost, true);
    assert.equal(fromStart.resumeAt, ids[1]);

    const inside = await readPairHistory(redis, userId, profileId, ids[2]!, 10);
    assert.deepEqual(
      inside.events.map((e) => e.data),
      ['3', '4'],
    );
    assert.equal(inside.lost, false);
    assert.equal(inside.resumeAt, ids[2]);
  });

  it('reports a loss when a pair with no history is resumed from a real entry', async () => {
    const { userId, profileId } = pair();
    assert.deepEqual(await readPairHistory(redis, userId, profileId, '5-0', 10), {
      events: [],
      lost: true,
      resumeAt: NO_ENTRY,
    });
    assert.deepEqual(await readPairHistory(redis, userId, profileId, NO_ENTRY, 10), {
      events: [],
      lost: false,
      resumeAt: NO_ENTRY,
    });
    assert.equal(await lastPairEntry(redis, userId, profileId), NO_ENTRY);
  });
});
