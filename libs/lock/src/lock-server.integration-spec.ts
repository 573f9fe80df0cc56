import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually, RedisServer } from '@app/testing';
import { freshPair, LockTestBed, lostAt, rejectsWith, TEST_TTL_MS } from './integration-support.js';
import { DATASET_KEY, pairKeys } from './keys.js';
import { launchedRecordPrefix, parseLaunchedRecord, serializeLaunchedRecord } from './launched-record.js';
import { LockServer } from './lock-server.js';
import { PairLock } from './pair-lock.js';

describe(LockServer.name, () => {
  const bed = new LockTestBed();
  let server: RedisServer;
  let client: Redis;
  let observer: Redis;
  let sut: LockServer;

  before(async () => {
    server = await bed.server();
    [client, observer] = await Promise.all([bed.client(server.url, 'server'), bed.client(server.url, 'obs')]);
    sut = new LockServer(client, TEST_TTL_MS);
    await eventually(async () => assert.ok(sut.canVote()), 2000);
  });

  after(async () => {
    sut.close();
    await bed.dispose();
  });

  const owner = () => randomBytes(16).toString('hex');
  /** A try-lock as PairLock sends it, with the pod's clock as the floor. */
  const acquire = (keys: ReturnType<typeof pairKeys>, who: string, floorMs = Date.now()) =>
    sut.acquire(keys, who, TEST_TTL_MS, floorMs, launchedRecordPrefix({ pod: 'pod-t', since: new Date(), owner: who }));

  it('writes the launched record with its fencing value in the try-lock, and no record for a confirm after the release', async () => {
    const { userId, profileId } = freshPair();
    const keys = pairKeys(userId, profileId);
    const mine = owner();
    const granted = await acquire(keys, mine);
    assert.equal(granted.kind, 'granted', JSON.stringify(granted));
    const token = granted.kind === 'granted' ? granted.fence : 0;
    const stored = parseLaunchedRecord(await observer.get(keys.launched));
    assert.deepEqual([stored?.owner, stored?.fencingToken, stored?.pod], [mine, token, 'pod-t']);
    assert.ok((await observer.pttl(keys.launched)) <= TEST_TTL_MS);
    assert.deepEqual(await sut.release(keys, mine), { ok: true });
    assert.equal(await observer.exists(keys.launched, keys.lock), 0);
    const record = serializeLaunchedRecord({ pod: 'late', since: new Date(), fencingToken: token + 1, owner: mine });
    const late = await sut.confirm(keys, mine, token + 1, record);
    assert.deepEqual(late, { ok: false, reason: 'the lock is not ours there' });
    assert.equal(await observer.exists(keys.launched), 0, 'a phantom record was written');
    assert.equal(Number(await observer.get(keys.fence)), token + 1, 'the high-water mark was raised all the same');
  });

  it('hands out fencing values above the high-water mark and never below the floor', async () => {
    const { userId, profileId } = freshPair();
    const keys = pairKeys(userId, profileId);
    await observer.set(keys.fence, '5');
    const floor = Date.now();
    assert.deepEqual(await acquire(keys, owner(), floor), { kind: 'granted', fence: floor, counts: true });
    await observer.del(keys.lock);
    const high = 9_000_000_000_000;
    await observer.set(keys.fence, String(high));
    assert.deepEqual(await acquire(keys, owner(), floor), { kind: 'granted', fence: high + 1, counts: true });
    assert.equal(await observer.get(keys.fence), String(high + 1));
    await observer.del(keys.lock);
  });

  it('counts a busy pair as busy, and only the owner may extend or release', async () => {
    const { userId, profileId } = freshPair();
    const keys = pairKeys(userId, profileId);
    const mine = owner();
    const granted = await acquire(keys, mine);
    assert.equal(granted.kind, 'granted', JSON.stringify(granted));
    assert.deepEqual(await acquire(keys, owner()), { kind: 'busy' });
    assert.deepEqual(await sut.extend(keys, owner(), TEST_TTL_MS), { ok: false, reason: 'the lock is no longer ours' });
    assert.deepEqual(await sut.extend(keys, mine, TEST_TTL_MS), { ok: true });
    await observer.set(
      keys.launched,
      serializeLaunchedRecord({ pod: 'x', since: new Date(), fencingToken: 1, owner: 'other' }),
    );
    assert.deepEqual(await sut.extend(keys, mine, TEST_TTL_MS), {
      ok: false,
      reason: 'the launched record is gone or belongs to another holder',
    });
    await sut.release(keys, owner());
    assert.equal(await observer.exists(keys.lock), 1, 'a stranger released it');
    await sut.release(keys, mine);
    assert.equal(await observer.exists(keys.lock), 0);
    assert.equal(await observer.exists(keys.launched), 1, 'another holder’s record is left alone');
  });
});

describe(`${PairLock.name} when a lock server loses its data without a reconnect`, () => {
  const bed = new LockTestBed();
  let client: Redis;
  let observer: Redis;
  let sut: PairLock;

  before(async () => {
    const server = await bed.server();
    [client, observer] = await Promise.all([bed.client(server.url, 'wiped'), bed.client(server.url, 'wiper')]);
    sut = bed.lock([client]);
    await eventually(async () => assert.equal(sut.votingServers, 1), 2000);
  });

  after(() => bed.dispose());

  it('ends the holder, and lets nobody have the pair until a lease after the wipe was seen', async (t) => {
    const { userId, profileId } = freshPair();
    const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    const lost = lostAt(held);
    const clientId = await client.client('ID');
    await observer.flushall();
    const wipedAt = performance.now();
    await rejectsWith(sut.acquire(userId, profileId, { pod: 'pod-b' }), 'DEPENDENCY_UNAVAILABLE');
    assert.equal(await client.client('ID'), clientId, 'the same connection: no reconnect told it');
    const { reason, at } = await lost;
    const next = await eventually(() => sut.acquire(userId, profileId, { pod: 'pod-b' }), TEST_TTL_MS + 2000, 20);
    const grantedMs = performance.now() - wipedAt;
    t.diagnostic(
      `FLUSHALL: holder lost its lock ${(at - wipedAt).toFixed(0)} ms later (${reason}); pair granted again after ${grantedMs.toFixed(0)} ms (lease ${TEST_TTL_MS} ms); token ${held.fencingToken} → ${next.fencingToken}`,
    );
    assert.ok(grantedMs >= TEST_TTL_MS - 50, `granted ${grantedMs.toFixed(0)} ms after the wipe`);
    assert.ok(next.fencingToken > held.fencingToken);
    assert.notEqual(await observer.get(DATASET_KEY), null, 'the data set has an id again');
    await next.release();
  });
});
