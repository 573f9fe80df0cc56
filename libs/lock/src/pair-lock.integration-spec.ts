import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it, mock } from 'node:test';
import type { Redis } from 'ioredis';
import { eventually, TcpProxy, testInfra } from '@app/testing';
import {
  connectedClient,
  freshPair,
  LockTestBed,
  lostAt,
  rejectsWith,
  sleep,
  TEST_COMMAND_TIMEOUT_MS,
  TEST_RENEW_MS,
  TEST_TTL_MS,
} from './integration-support.js';
import { pairKeys } from './keys.js';
import { parseLaunchedRecord } from './launched-record.js';
import { PairLock } from './pair-lock.js';

describe(PairLock.name, () => {
  const { redisUrl } = testInfra();
  const bed = new LockTestBed();
  let redis: Redis;
  let sut: PairLock;
  let other: PairLock;

  before(async () => {
    redis = await bed.client(redisUrl);
    sut = bed.lock([redis]);
    other = bed.lock([redis]);
  });

  after(() => bed.dispose());

  it('refuses a second acquire of a held pair with 409 PROFILE_IN_USE, from any holder', async () => {
    const { userId, profileId } = freshPair();
    const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    await rejectsWith(other.acquire(userId, profileId, { pod: 'pod-b' }), 'PROFILE_IN_USE');
    const error = await rejectsWith(sut.acquire(userId, profileId, { pod: 'pod-a' }), 'PROFILE_IN_USE');
    assert.equal(error.status, 409);
    assert.equal(sut.heldCount, 1);
    await held.release();
    assert.equal(sut.heldCount, 0);
  });

  it('lets the pair be acquired again as soon as release resolves', async (t) => {
    const { userId, profileId } = freshPair();
    const first = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    await first.release();
    const started = performance.now();
    const second = await other.acquire(userId, profileId, { pod: 'pod-b' });
    t.diagnostic(`re-acquired ${(performance.now() - started).toFixed(1)} ms after release resolved`);
    assert.ok(second.isValid());
    await second.release();
  });

  it('hands out strictly increasing fencing tokens for a pair', async () => {
    const { userId, profileId } = freshPair();
    const tokens: number[] = [];
    for (let round = 0; round < 5; round++) {
      const held = await (round % 2 ? other : sut).acquire(userId, profileId, { pod: `pod-${round}` });
      tokens.push(held.fencingToken);
      await held.release();
    }
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `tokens ${tokens.join(', ')}`);
    assert.ok(tokens.every(Number.isSafeInteger));
  });

  it('keeps the launched record while held, renewing its expiry, and deletes it on release', async () => {
    const { userId, profileId } = freshPair();
    const keys = pairKeys(userId, profileId);
    const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    const { owner, ...record } = parseLaunchedRecord(await redis.get(keys.launched))!;
    assert.deepEqual(record, { pod: 'pod-a', since: held.since, fencingToken: held.fencingToken });
    assert.equal(await redis.get(keys.lock), owner, 'the record names the lock value as its owner');
    // Several leases long: only the renewals keep it there.
    await sleep(3 * TEST_TTL_MS);
    assert.ok(held.isValid());
    assert.equal(parseLaunchedRecord(await redis.get(keys.launched))?.fencingToken, held.fencingToken);
    assert.ok((await redis.pttl(keys.launched)) > TEST_TTL_MS - TEST_RENEW_MS - 100);
    assert.ok((await redis.pttl(keys.lock)) > TEST_TTL_MS - TEST_RENEW_MS - 100);
    await held.release();
    assert.equal(await redis.exists(keys.launched, keys.lock), 0);
  });

  it('never deletes the launched record or lock of a later holder', async () => {
    const { userId, profileId } = freshPair();
    const keys = pairKeys(userId, profileId);
    const stale = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    await redis.del(keys.lock); // the lease is gone (expired, or Redis lost it) before pod-a noticed
    const current = await other.acquire(userId, profileId, { pod: 'pod-b' });
    await stale.release();
    const record = parseLaunchedRecord(await redis.get(keys.launched));
    assert.equal(record?.pod, 'pod-b');
    assert.equal(record?.fencingToken, current.fencingToken);
    assert.ok(current.fencingToken > stale.fencingToken);
    await rejectsWith(sut.acquire(userId, profileId, { pod: 'pod-a' }), 'PROFILE_IN_USE');
    await sleep(2 * TEST_RENEW_MS);
    assert.ok(current.isValid(), 'the later holder keeps renewing');
    await current.release();
    assert.equal(await redis.exists(keys.launched), 0);
  });

  it('reports the loss within one renewal interval when the lock key disappears', async (t) => {
    const { userId, profileId } = freshPair();
    const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    const lost = lostAt(held);
    const deletedAt = performance.now();
    await redis.del(pairKeys(userId, profileId).lock);
    const { reason, at } = await lost;
    const detectMs = at - deletedAt;
    t.diagnostic(`loss detected ${detectMs.toFixed(0)} ms after the lock key was deleted (${reason})`);
    assert.ok(detectMs <= TEST_RENEW_MS + 150, `detected after ${detectMs} ms`);
    assert.match(reason, /renewal failed: the lock is no longer ours/);
    assert.equal(held.isValid(), false);
    assert.equal(held.lostReason, reason);
    assert.equal(sut.heldCount, 0);
    await held.release(); // a no-op now, and it must not throw
    // Its best-effort release removed its own record, so the pair is free at once.
    await eventually(async () => (await sut.acquire(userId, profileId, { pod: 'pod-a' })).release(), 500);
  });

  it('reports the loss when the launched record is taken over', async (t) => {
    const { userId, profileId } = freshPair();
    const keys = pairKeys(userId, profileId);
    const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    const lost = lostAt(held);
    const changedAt = performance.now();
    await redis.set(
      keys.launched,
      JSON.stringify({ pod: 'intruder', since: new Date().toISOString(), fencingToken: held.fencingToken + 1 }),
    );
    const { reason, at } = await lost;
    t.diagnostic(`loss detected ${(at - changedAt).toFixed(0)} ms after the record changed hands`);
    assert.match(reason, /launched record/);
    assert.equal((await redis.get(keys.launched))?.includes('intruder'), true, 'the other record is left alone');
    await redis.del(keys.launched);
  });

  it('calls onLost once, and at once for a listener added after the loss, but never after a release', async () => {
    const { userId, profileId } = freshPair();
    const lostOne = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    const calls: string[] = [];
    lostOne.onLost((reason) => calls.push(reason));
    const unsubscribed = lostOne.onLost(() => calls.push('unsubscribed listener'));
    unsubscribed();
    await redis.del(pairKeys(userId, profileId).lock);
    await lostAt(lostOne);
    const late = await lostAt(lostOne);
    assert.equal(calls.length, 1);
    assert.equal(late.reason, calls[0]);

    const released = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    let firedAfterRelease = false;
    released.onLost(() => (firedAfterRelease = true));
    await Promise.all([released.release(), released.release()]);
    await sleep(2 * TEST_RENEW_MS);
    assert.equal(firedAfterRelease, false);
    assert.equal(released.isValid(), false);
  });

  it('frees the pair within ttl + 1 s when the holding process crashes without releasing', async (t) => {
    const { userId, profileId } = freshPair();
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        CRASHING_HOLDER,
        new URL('./index.js', import.meta.url).href,
        redisUrl,
        userId,
        profileId,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(async () => assert.match(output, /acquired \d+/), 10_000);
    await sleep(3 * TEST_RENEW_MS); // it renews while alive
    child.kill('SIGKILL');
    await exited;
    const crashedAt = performance.now();
    await rejectsWith(sut.acquire(userId, profileId, { pod: 'pod-a' }), 'PROFILE_IN_USE');
    const held = await eventually(() => sut.acquire(userId, profileId, { pod: 'pod-a' }), TEST_TTL_MS + 1000, 20);
    const freeAfterMs = performance.now() - crashedAt;
    t.diagnostic(`pair free ${freeAfterMs.toFixed(0)} ms after the holder was killed (ttl ${TEST_TTL_MS} ms)`);
    assert.ok(freeAfterMs <= TEST_TTL_MS + 1000);
    assert.ok(held.fencingToken > Number(/acquired (\d+)/.exec(output)![1]));
    await held.release();
  });

  it('leaves no phantom launched record when writing it timed out and it runs on the server late', async (t) => {
    const { userId, profileId } = freshPair();
    const keys = pairKeys(userId, profileId);
    const proxy = await TcpProxy.forAddress(new URL(redisUrl).host, 6379).start();
    const proxied = await connectedClient(`redis://${proxy.address}`, 'slow-record');
    const sutOverProxy = new PairLock({ lockClients: [proxied], ttlMs: TEST_TTL_MS, renewMs: TEST_RENEW_MS });
    try {
      // The try-lock passes; the record write (the first command naming the record) is held back.
      const held = proxy.holdFrom((chunk) => chunk.includes(keys.launched));
      const started = performance.now();
      await rejectsWith(sutOverProxy.acquire(userId, profileId, { pod: 'pod-a' }), 'DEPENDENCY_UNAVAILABLE');
      const refusedMs = performance.now() - started;
      await held;
      assert.ok(refusedMs < TEST_COMMAND_TIMEOUT_MS + 500, `503 after ${refusedMs.toFixed(0)} ms`);
      assert.equal(sutOverProxy.heldCount, 0);
      // Now the timed-out write reaches Redis after all, followed by the release sent after it.
      assert.ok(proxy.releaseHeld() > 0, 'the held write was delivered on its open connection');
      await eventually(async () => assert.equal(await redis.exists(keys.lock), 0), 1000);
      const leftovers = await redis.exists(keys.launched);
      t.diagnostic(`503 after ${refusedMs.toFixed(0)} ms; after the late write: ${leftovers} launched record(s) left`);
      assert.equal(leftovers, 0, 'a phantom launched record was left behind');
      // The pair is free right away.
      await (await sut.acquire(userId, profileId, { pod: 'pod-a' })).release();
    } finally {
      sutOverProxy.close();
      proxied.disconnect();
      await proxy.stop();
    }
  });

  it('keeps a valid lease valid and renewing through a 60 s wall-clock step either way', async () => {
    const { userId, profileId } = freshPair();
    const held = await sut.acquire(userId, profileId, { pod: 'pod-a' });
    try {
      for (const step of [-60_000, +60_000]) {
        mock.timers.enable({ apis: ['Date'], now: Date.now() + step });
        try {
          assert.ok(held.isValid(), `valid right after a ${step} ms step`);
          await sleep(3 * TEST_TTL_MS);
          assert.ok(held.isValid(), `still valid (renewed) three leases after a ${step} ms step`);
          assert.equal(held.lostReason, undefined);
        } finally {
          mock.timers.reset();
        }
      }
    } finally {
      await held.release();
    }
  });

  it('revokes every held lock on releaseAll, reporting the loss to each', async () => {
    const pairs = [freshPair(), freshPair(), freshPair()];
    const held = await Promise.all(pairs.map((p) => other.acquire(p.userId, p.profileId, { pod: 'pod-b' })));
    assert.equal(other.heldCount, 3);
    const losses = held.map(lostAt);
    await other.releaseAll('shutting down');
    assert.deepEqual(
      (await Promise.all(losses)).map((l) => l.reason),
      ['shutting down', 'shutting down', 'shutting down'],
    );
    assert.equal(other.heldCount, 0);
    for (const p of pairs) await (await sut.acquire(p.userId, p.profileId, { pod: 'pod-a' })).release();
  });

  it('renews every held lock and launched record in one round trip per renewal round, not one per lock', async () => {
    const client = await bed.client(redisUrl);
    const lock = bed.lock([client]);
    const pairs = Array.from({ length: 50 }, () => freshPair());
    const held = await Promise.all(pairs.map((p) => lock.acquire(p.userId, p.profileId, { pod: 'pod-a' })));
    const stream = (client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
    const writes = mock.method(stream, 'write');
    await sleep(5 * TEST_RENEW_MS);
    const rounds = writes.mock.callCount();
    writes.mock.restore();
    // About five rounds in five renewal intervals (timers may run late), each one write of 50 extensions.
    assert.ok(rounds >= 3 && rounds <= 6, `${rounds} writes to the lock server in five renewal intervals`);
    for (const p of pairs) {
      const ttl = await redis.pttl(pairKeys(p.userId, p.profileId).launched);
      assert.ok(ttl > TEST_TTL_MS - 2 * TEST_RENEW_MS, `launched record renewed (${ttl} ms left)`);
    }
    assert.ok(held.every((h) => h.isValid()));
    await Promise.all(held.map((h) => h.release()));
    assert.equal(lock.heldCount, 0);
  });

  it('counts nothing held after every test above', () => {
    assert.equal(sut.heldCount, 0);
    assert.equal(other.heldCount, 0);
  });
});

/** A pod that takes the lock, renews it, and is then killed (argv: index.js URL, Redis URL, user, profile). */
const CRASHING_HOLDER = `
const [indexUrl, redisUrl, userId, profileId] = process.argv.slice(1);
const { PairLock, createRedisClient, connectRedis } = await import(indexUrl);
const client = createRedisClient(redisUrl, { commandTimeoutMs: ${TEST_COMMAND_TIMEOUT_MS}, name: 'crashing-pod' });
await connectRedis(client);
const lock = new PairLock({ lockClients: [client], ttlMs: ${TEST_TTL_MS}, renewMs: ${TEST_RENEW_MS} });
const held = await lock.acquire(userId, profileId, { pod: 'crashing-pod' });
held.onLost((reason) => console.error('crashing holder lost its lock early: ' + reason));
process.stdout.write('acquired ' + held.fencingToken + '\\n');
setInterval(() => {}, 60_000);
`;
