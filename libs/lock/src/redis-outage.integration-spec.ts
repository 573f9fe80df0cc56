import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually, freePort, RedisServer } from '@app/testing';
import {
  connectedClient,
  freshPair,
  LockTestBed,
  lostAt,
  rejectsWith,
  TEST_RENEW_MS,
  TEST_TTL_MS,
} from './integration-support.js';
import { PairLock } from './pair-lock.js';
import { closeRedis, connectRedis, createRedisClient, MAX_RECONNECT_DELAY_MS } from './redis-client.js';

describe(PairLock.name, () => {
  describe('when Redis stops', () => {
    const bed = new LockTestBed();
    let server: RedisServer;
    let redis: Redis;
    let sut: PairLock;

    before(async () => {
      ({ server, client: redis, lock: sut } = await bed.lockOnOwnServer('outage'));
    });

    after(async () => {
      await bed.dispose();
    });

    it('reports the loss and answers 503 within 1 s, then works again a lease after Redis is back', async (t) => {
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      const lost = lostAt(held);
      await server.stop('SIGKILL');
      const stoppedAt = performance.now();

      const started = performance.now();
      const error = await rejectsWith(
        sut.acquire(freshPair().userId, profileId, { pod: 'pod-a' }),
        'DEPENDENCY_UNAVAILABLE',
      );
      const refusedMs = performance.now() - started;
      assert.equal(error.status, 503);
      assert.equal(error.retryAfterSeconds, 1);
      assert.ok(refusedMs < 1000, `503 took ${refusedMs} ms`);

      const { reason, at } = await lost;
      const detectMs = at - stoppedAt;
      t.diagnostic(
        `loss detected ${detectMs.toFixed(0)} ms after Redis was killed (${reason}); new acquire 503 in ${refusedMs.toFixed(1)} ms`,
      );
      assert.ok(detectMs <= TEST_RENEW_MS + 150, `detected after ${detectMs} ms`);
      assert.equal(sut.heldCount, 0);
      assert.equal(await held.release(), undefined, 'release after the outage resolves quietly');

      await server.start();
      const restartedAt = performance.now();
      // It came back empty: it may have forgotten holders, so it does not vote for one lease.
      await eventually(async () => assert.equal(redis.status, 'ready'), MAX_RECONNECT_DELAY_MS + 1000, 10);
      await rejectsWith(sut.acquire(userId, profileId, { pod: 'pod-a' }), 'DEPENDENCY_UNAVAILABLE');
      const again = await eventually(() => sut.acquire(userId, profileId, { pod: 'pod-a' }), TEST_TTL_MS + 3000, 10);
      const afterMs = performance.now() - restartedAt;
      t.diagnostic(`acquired again ${afterMs.toFixed(0)} ms after Redis restarted (lease ${TEST_TTL_MS} ms)`);
      assert.ok(afterMs >= TEST_TTL_MS - 100 && afterMs < TEST_TTL_MS + MAX_RECONNECT_DELAY_MS + 1000);
      await again.release();
    });
  });
});

describe(connectRedis.name, () => {
  const sut = connectRedis;

  it('fails within about 3 s with a message naming the Redis it could not reach', async (t) => {
    const port = await freePort();
    const client = createRedisClient(`redis://127.0.0.1:${port}/2`, { commandTimeoutMs: 300, name: 'nobody-home' });
    const started = performance.now();
    try {
      await assert.rejects(sut(client), (error: Error) => {
        assert.match(
          error.message,
          new RegExp(`^Cannot connect to Redis at redis://127\\.0\\.0\\.1:${port}/2: .*ECONNREFUSED`),
        );
        return true;
      });
    } finally {
      client.disconnect();
    }
    const elapsed = performance.now() - started;
    t.diagnostic(`connectRedis gave up after ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed >= 2900 && elapsed < 3500);
  });

  it('resolves at once for a client that is already ready, and fails for a closed one', async () => {
    const server = await RedisServer.start();
    try {
      const client = await connectedClient(server.url);
      const started = performance.now();
      await sut(client);
      assert.ok(performance.now() - started < 5);
      await closeRedis(client);
      await assert.rejects(sut(client), /Cannot connect to Redis at .*closed/);
    } finally {
      await server.dispose();
    }
  });
});
