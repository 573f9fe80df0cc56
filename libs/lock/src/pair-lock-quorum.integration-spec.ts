import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually, RedisServer } from '@app/testing';
import { freshPair, LockTestBed, lostAt, rejectsWith, TEST_RENEW_MS, TEST_TTL_MS } from './integration-support.js';
import { pairKeys } from './keys.js';
import { PairLock } from './pair-lock.js';

describe(PairLock.name, () => {
  describe('over three independent Redis servers', () => {
    const bed = new LockTestBed();
    let servers: RedisServer[];
    let lockClients: Redis[];
    let sut: PairLock;
    let other: PairLock;

    before(async () => {
      servers = await bed.servers(3);
      lockClients = await bed.clients(servers, 'quorum');
      sut = bed.lock(lockClients);
      other = bed.lock(await bed.clients(servers, 'quorum-other'));
    });

    beforeEach(async () => {
      // Every test starts with all three up, every client reconnected, and every server voting
      // (a server restarted by the test before does not vote for a lease).
      await Promise.all(servers.map((server) => server.start()));
      await eventually(
        async () => assert.deepEqual([sut.votingServers, other.votingServers], [3, 3]),
        TEST_TTL_MS + 3000,
      );
    });

    after(() => bed.dispose());

    it('locks the pair on every server when all three are up', async () => {
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      for (const client of lockClients) assert.equal(await client.exists(held.resource), 1);
      await held.release();
      // Free once a majority freed it; the third follows at once.
      await eventually(async () => {
        for (const client of lockClients) assert.equal(await client.exists(held.resource), 0);
      }, 1000);
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

    it('takes locks again once a quorum of servers is back, after the restarted one waited a lease', async (t) => {
      await Promise.all([servers[1]!.stop('SIGKILL'), servers[2]!.stop('SIGKILL')]);
      const { userId, profileId } = freshPair();
      await rejectsWith(sut.acquire(userId, profileId, { pod: 'pod-a' }), 'DEPENDENCY_UNAVAILABLE');
      await servers[1]!.start();
      const restartedAt = performance.now();
      const held = await eventually(() => sut.acquire(userId, profileId, { pod: 'pod-a' }), TEST_TTL_MS + 3000);
      const afterMs = performance.now() - restartedAt;
      t.diagnostic(
        `acquired ${afterMs.toFixed(0)} ms after the second server came back empty (lease ${TEST_TTL_MS} ms)`,
      );
      assert.ok(afterMs >= TEST_TTL_MS - 100, `it voted ${afterMs.toFixed(0)} ms after its restart`);
      await held.release();
    });

    it('keeps the holder and refuses others when one of three restarts empty, and tokens keep growing', async (t) => {
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      await servers[0]!.stop('SIGKILL');
      await servers[0]!.start();
      await new Promise((done) => setTimeout(done, 2 * TEST_TTL_MS));
      assert.ok(held.isValid(), 'the two that kept the key renew it');
      await rejectsWith(other.acquire(userId, profileId, { pod: 'pod-b' }), 'PROFILE_IN_USE');
      await held.release();
      const next = await other.acquire(userId, profileId, { pod: 'pod-b' });
      t.diagnostic(
        `fencing token ${held.fencingToken} before, ${next.fencingToken} after the empty restart of one server`,
      );
      assert.ok(next.fencingToken > held.fencingToken);
      await next.release();
    });

    it('never hands the pair to another holder while two of three that lost its key sit out their lease', async (t) => {
      const { userId, profileId } = freshPair();
      const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
      const lost = lostAt(held);
      await Promise.all([servers[1]!.stop('SIGKILL'), servers[2]!.stop('SIGKILL')]);
      await Promise.all([servers[1]!.start(), servers[2]!.start()]);
      const restartedAt = performance.now();
      // Both forgot the key and answer "free" at once; they must not count until a lease is over.
      let firstGrantMs: number | undefined;
      const refusals: string[] = [];
      while (firstGrantMs === undefined) {
        try {
          const next = await other.acquire(userId, profileId, { pod: 'pod-b' });
          firstGrantMs = performance.now() - restartedAt;
          assert.ok(next.fencingToken > held.fencingToken, `token ${next.fencingToken} after ${held.fencingToken}`);
          await next.release();
        } catch (error) {
          refusals.push((error as { code?: string }).code ?? String(error));
          await new Promise((done) => setTimeout(done, 20));
        }
      }
      const { at } = await lost;
      const holderEndedMs = at - restartedAt;
      t.diagnostic(
        `holder lost its lock ${holderEndedMs.toFixed(0)} ms after the restarts; another got the pair after ` +
          `${firstGrantMs.toFixed(0)} ms (${refusals.length} refusals: ${[...new Set(refusals)].join(', ')})`,
      );
      assert.ok(firstGrantMs >= TEST_TTL_MS - 100, `granted after ${firstGrantMs.toFixed(0)} ms`);
      assert.ok(holderEndedMs < firstGrantMs, 'the holder ended before anyone else got the pair');
      assert.deepEqual([...new Set(refusals)], ['DEPENDENCY_UNAVAILABLE']);
    });
  });
});
