import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually, RedisServer } from '@app/testing';
import { freshPair, LockTestBed, rejectsWith, TEST_COMMAND_TIMEOUT_MS } from './integration-support.js';
import { pairKeys } from './keys.js';
import { LaunchedRecords } from './launched-records.js';
import { PairLock } from './pair-lock.js';

describe(LaunchedRecords.name, () => {
  // A server of its own, so its command statistics count this file's commands only.
  const bed = new LockTestBed();
  let server: RedisServer;
  let redis: Redis;
  let lock: PairLock;
  let sut: LaunchedRecords;

  before(async () => {
    ({ server, client: redis, lock } = await bed.lockOnOwnServer('records'));
    sut = new LaunchedRecords([redis]);
  });

  after(() => bed.dispose());

  /** Calls per command name since the server started, from INFO commandstats. */
  async function commandCalls(): Promise<Record<string, number>> {
    const info = await redis.info('commandstats');
    return Object.fromEntries([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
  }

  it('returns the live records of the asked profiles in one MGET', async () => {
    const { userId } = freshPair();
    const live = [randomUUID(), randomUUID(), randomUUID()];
    const idle = [randomUUID(), randomUUID()];
    const held = await Promise.all(live.map((profileId, i) => lock.acquire(userId, profileId, { pod: `pod-${i}` })));

    const before = await commandCalls();
    const found = await sut.readMany(userId, [...idle, ...live, live[0]!]);
    const after = await commandCalls();

    assert.deepEqual([...found.keys()].sort(), [...live].sort());
    live.forEach((profileId, i) => {
      assert.deepEqual(found.get(profileId), {
        pod: `pod-${i}`,
        since: held[i]!.since,
        fencingToken: held[i]!.fencingToken,
      });
    });
    // Besides the one MGET: the measurement's own INFO, and the held locks' renewal scripts.
    const delta = Object.fromEntries(
      Object.entries(after)
        .map(([name, calls]) => [name, calls - (before[name] ?? 0)] as const)
        .filter(([name, calls]) => calls > 0 && !['info', 'eval', 'evalsha'].includes(name)),
    );
    assert.deepEqual(delta, { mget: 1 });
    await Promise.all(held.map((h) => h.release()));
  });

  it('reports nothing for a profile once its lock is released', async () => {
    const { userId, profileId } = freshPair();
    const held = await lock.acquire(userId, profileId, { pod: 'pod-a' });
    assert.equal((await sut.readMany(userId, [profileId])).size, 1);
    await held.release();
    assert.equal((await sut.readMany(userId, [profileId])).size, 0);
  });

  it('skips values that are not launched records', async () => {
    const { userId } = freshPair();
    const [garbage, partial, good] = [randomUUID(), randomUUID(), randomUUID()];
    await redis.set(pairKeys(userId, garbage).launched, 'not json');
    await redis.set(pairKeys(userId, partial).launched, JSON.stringify({ pod: 'p' }));
    await redis.set(
      pairKeys(userId, good).launched,
      JSON.stringify({ pod: 'p', since: '2030-01-01T00:00:00.000Z', fencingToken: 7, owner: 'someone' }),
    );
    const found = await sut.readMany(userId, [garbage, partial, good]);
    assert.deepEqual([...found.keys()], [good]);
  });

  it('answers an empty question without asking Redis', async () => {
    const before = await commandCalls();
    assert.equal((await sut.readMany(randomUUID(), [])).size, 0);
    const after = await commandCalls();
    assert.equal(after.mget ?? 0, before.mget ?? 0);
  });

  it('answers 503 quickly while Redis is down', async () => {
    await server.stop('SIGKILL');
    try {
      const started = performance.now();
      await rejectsWith(sut.readMany(randomUUID(), [randomUUID(), randomUUID()]), 'DEPENDENCY_UNAVAILABLE');
      assert.ok(performance.now() - started < TEST_COMMAND_TIMEOUT_MS + 100);
    } finally {
      await server.start();
      await eventually(async () => assert.equal(redis.status, 'ready'), 3000);
    }
  });

  it('reads by majority over three servers: truthful with one down, never reporting a minority leftover', async () => {
    const three = new LockTestBed();
    try {
      const extra = await three.servers(2);
      const clients = [redis, ...(await three.clients(extra, 'records'))];
      const threeLock = three.lock(clients);
      const threeRead = new LaunchedRecords(clients);
      const { userId, profileId } = freshPair();
      const leftover = randomUUID();
      await eventually(async () => assert.equal(threeLock.votingServers, 3), 3000);
      const held = await threeLock.acquire(userId, profileId, { pod: 'pod-q' });
      // A record on one server only (e.g. an acquire that failed there and could not be cleaned up).
      await clients[2]!.set(
        pairKeys(userId, leftover).launched,
        JSON.stringify({ pod: 'ghost', since: new Date().toISOString(), fencingToken: 1, owner: 'ghost' }),
        'PX',
        60_000,
      );
      assert.deepEqual([...(await threeRead.readMany(userId, [profileId, leftover])).keys()], [profileId]);
      await server.stop('SIGKILL'); // the first server, which every other test here reads alone
      const found = await threeRead.readMany(userId, [profileId, leftover]);
      assert.deepEqual([...found.keys()], [profileId], 'the other two still agree on the live record');
      assert.equal(found.get(profileId)?.fencingToken, held.fencingToken);
      await extra[0]!.stop('SIGKILL');
      await rejectsWith(threeRead.readMany(userId, [profileId]), 'DEPENDENCY_UNAVAILABLE');
      await held.release();
    } finally {
      await three.dispose();
      await server.start();
      await eventually(async () => assert.equal(redis.status, 'ready'), 3000);
    }
  });
});
