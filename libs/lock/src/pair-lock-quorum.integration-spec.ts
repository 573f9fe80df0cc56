import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually, RedisServer, testInfra } from '@app/testing';
import { connectedClient, freshPair, lostAt, rejectsWith, TEST_RENEW_MS, TEST_TTL_MS } from './integration-support.js';
import { pairKeys } from './keys.js';
import { PairLock } from './pair-lock.js';
import { closeRedis } from './redis-client.js';

describe(PairLock.name, () => {
  describe('over three independent Redis servers', () => {
    const { redisUrl } = testInfra();
    let servers: RedisServer[];
    let lockClients: Redis[];
    let main: Redis;
    let sut: PairLock;
    let other: PairLock;

    before(async () => {
      servers = await Promise.all([RedisServer.start(), RedisServer.start(), RedisServer.start()]);
      lockClients = await Promise.all(servers.map((server, i) => connectedClient(server.url, `quorum-${i}`)));
      main = await connectedClient(redisUrl, 'quorum-main');
      const options = { lockClients, mainClient: main, ttlMs: TEST_TTL_MS, renewMs: TEST_RENEW_MS };
      sut = new PairLock(options);
      other = new PairLock(options);
    });

    beforeEach(async () => {
      // Every test starts with all three up and every client reconnected.
      await Promise.all(servers.map((server) => server.start()));
      await eventually(async () => assert.ok(lockClients.every((client) => client.status === 'ready')), 3000);
    });

    after(async () => {
      await sut.releaseAll();
      await other.releaseAll();
      await Promise.all([...lockClients, main].map(closeRedis));
      await Promise.all(servers.map((server) => server.dispose()));
    });

    it('locks the pair on every server when all three are up', async () => {
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      for (const client of lockClients) assert.equal(await client.exists(held.resource), 1);
      await held.release();
      for (const client of lockClients) assert.equal(await client.exists(held.resource), 0);
    });

    it('acquires and keeps renewing with one of three servers down', async () => {
      await servers[2]!.stop('SIGKILL');
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      await new Promise((done) => setTimeout(done, 2 * TEST_TTL_MS));
      assert.ok(held.isValid(), 'a majority still renews it');
      await held.release();
      assert.equal(sut.heldCount, 0);
    });

    it('answers 409 when a quorum holds the pair, though one server is down', async () => {
      await servers[2]!.stop('SIGKILL');
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      await rejectsWith(other.acquire(userId, profileId, { pod: 'pod-b' }), 'PROFILE_IN_USE');
      await held.release();
    });

    it('answers 503, not 409, with two of three down even where the third holds the pair', async (t) => {
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      const lost = lostAt(held);
      await Promise.all([servers[1]!.stop('SIGKILL'), servers[2]!.stop('SIGKILL')]);
      const stoppedAt = performance.now();
      assert.equal(await lockClients[0]!.exists(pairKeys(userId, profileId).lock), 1, 'the survivor holds the key');

      const started = performance.now();
      const error = await rejectsWith(other.acquire(userId, profileId, { pod: 'pod-b' }), 'DEPENDENCY_UNAVAILABLE');
      const refusedMs = performance.now() - started;
      assert.equal(error.status, 503);
      await rejectsWith(other.acquire(freshPair().userId, profileId, { pod: 'pod-b' }), 'DEPENDENCY_UNAVAILABLE');

      const { reason, at } = await lost;
      t.diagnostic(
        `503 in ${refusedMs.toFixed(1)} ms; holder lost its lock ${(at - stoppedAt).toFixed(0)} ms after the outage (${reason})`,
      );
      assert.ok(refusedMs < 1000);
      assert.ok(at - stoppedAt <= TEST_RENEW_MS + 150);
      assert.equal(sut.heldCount, 0);
      assert.equal(other.heldCount, 0);
    });

    it('takes locks again once a quorum of servers is back', async (t) => {
      await Promise.all([servers[1]!.stop('SIGKILL'), servers[2]!.stop('SIGKILL')]);
      const { userId, profileId } = freshPair();
      await rejectsWith(sut.acquire(userId, profileId, { pod: 'pod-a' }), 'DEPENDENCY_UNAVAILABLE');
      const restartedAt = performance.now();
      await servers[1]!.start();
      const held = await eventually(() => sut.acquire(userId, profileId, { pod: 'pod-a' }), 3000);
      t.diagnostic(`acquired ${(performance.now() - restartedAt).toFixed(0)} ms after the second server came back`);
      await held.release();
    });
  });
});
