import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { pairKeys } from '@app/lock';
import { eventually, request } from '@app/testing';
import type { SseClient } from '../support/sse-client.js';
import {
  expectGauges,
  FAST_LOCK_RENEW_MS,
  FAST_LOCK_TTL_MS,
  gaugesSettle,
  Metrics,
  openStream,
  type Pair,
  refusedStream,
  streamSuite,
  votingSettles,
} from '../support/stream-stack.js';

/** A stream whose lock is gone stops within one renewal period plus 1 s. */
const LOSS_DEADLINE_MS = FAST_LOCK_RENEW_MS + 1000;
/** With Redis down, a new stream is refused within 1 s. */
const OUTAGE_ANSWER_MS = 1000;

/** Waits for `client` to get `lock-lost` and then the end of the stream; returns ms since `since`. */
async function lockLostAfter(client: SseClient, since: number): Promise<number> {
  const lost = await client.waitForEvent('lock-lost', LOSS_DEADLINE_MS + 2000);
  await client.waitForEnd(1000);
  assert.equal(client.eventNames().at(-1), 'lock-lost', 'lock-lost is the last event');
  assert.equal(JSON.parse(lost.data).pod, 'stream-redis');
  return client.endedAt! - since;
}

describe('stream when its Redis misbehaves', () => {
  const suite = streamSuite('streamredis', {
    env: { REDIS_COMMAND_TIMEOUT_MS: '200', POD_NAME: 'stream-redis' },
    // The stream reaches Redis through a proxy, so the test can also make Redis hang.
    proxy: 'redis',
    pairs: 6,
  });

  const ready = () =>
    eventually(
      async () => assert.equal((await request(suite.stream.url, 'GET', '/health/ready')).status, 200),
      5000,
      50,
    );

  describe('the lock is taken away', () => {
    const expectLoss = async (
      t: TestContext,
      pair: Pair,
      takeAway: () => Promise<unknown>,
      what: string,
      serverForgot = false,
    ) => {
      const client = await openStream(suite.stream.url, pair);
      const lostBefore = (await Metrics.scrape(suite.stream.url)).value('stream_lock_lost_total');
      await expectGauges(suite.stream.url, 1);
      await takeAway();
      const tookAt = performance.now();
      const lostMs = await lockLostAfter(client, tookAt);
      t.diagnostic(
        `${what}: lock-lost and end of stream ${lostMs.toFixed(0)} ms later (LOCK_RENEW_MS ${FAST_LOCK_RENEW_MS})`,
      );
      assert.ok(lostMs <= LOSS_DEADLINE_MS, `${what}: the stream ended ${lostMs.toFixed(0)} ms later`);
      await client.close();
      await gaugesSettle(suite.stream.url, 0);
      assert.equal((await Metrics.scrape(suite.stream.url)).value('stream_lock_lost_total'), lostBefore + 1);
      await ready();
      if (serverForgot) {
        // The server may have forgotten other holders too: it does not vote for one lease.
        await refusedStream(suite.stream.url, pair, 503, 'DEPENDENCY_UNAVAILABLE');
        const waitedMs = await votingSettles(suite.stream.url, 1);
        t.diagnostic(`${what}: the pair streams again ${waitedMs.toFixed(0)} ms later (lease ${FAST_LOCK_TTL_MS} ms)`);
      }
      // Otherwise loss frees the pair: it streams again at once.
      const again = await openStream(suite.stream.url, pair);
      await again.close();
      await gaugesSettle(suite.stream.url, 0);
    };

    it('sends lock-lost and ends the stream within LOCK_RENEW_MS + 1 s when the lock key is deleted', async (t) => {
      const pair = suite.pairs[0]!;
      await expectLoss(
        t,
        pair,
        () => suite.stack.inspect.del(pairKeys(pair.userId, pair.profileId).lock),
        'lock key deleted',
      );
    });

    it('sends lock-lost and ends the stream within LOCK_RENEW_MS + 1 s when the launched record is taken over', async (t) => {
      const pair = suite.pairs[1]!;
      const { launched } = pairKeys(pair.userId, pair.profileId);
      await expectLoss(
        t,
        pair,
        () =>
          suite.stack.inspect.set(
            launched,
            JSON.stringify({ pod: 'intruder', since: new Date().toISOString(), fencingToken: 999_999 }),
          ),
        'launched record overwritten',
      );
      await suite.stack.inspect.del(launched);
    });

    it('sends lock-lost and ends the stream within LOCK_RENEW_MS + 1 s when Redis restarts empty', async (t) => {
      const pair = suite.pairs[2]!;
      await expectLoss(
        t,
        pair,
        async () => {
          await suite.stack.redis.stop('SIGKILL');
          await suite.stack.redis.start();
        },
        'Redis restarted empty',
        true,
      );
    });
  });

  describe('a launched-record write times out', () => {
    it('answers 503 and leaves no phantom record when the write reaches Redis late', async (t) => {
      await ready();
      const pair = suite.pairs[5]!;
      const { launched, lock } = pairKeys(pair.userId, pair.profileId);
      const held = suite.proxy.holdFrom((chunk) => chunk.includes(launched));
      const refusal = await refusedStream(suite.stream.url, pair, 503, 'DEPENDENCY_UNAVAILABLE');
      await held;
      assert.ok(suite.proxy.releaseHeld() > 0, 'the held write was delivered on its open connection');
      await eventually(async () => assert.equal(await suite.stack.inspect.exists(lock), 0), 1000);
      const left = await suite.stack.inspect.exists(launched);
      t.diagnostic(
        `record write held back: 503 in ${refusal.elapsedMs.toFixed(0)} ms; ${left} record(s) left after it ran late`,
      );
      assert.equal(left, 0, 'a phantom launched record was left behind');
      const again = await openStream(suite.stream.url, pair);
      await again.close();
      await gaugesSettle(suite.stream.url, 0);
    });
  });

  describe('Redis is down', () => {
    it('ends every live stream with lock-lost and refuses new ones with 503 within 1 s, then recovers', async (t) => {
      await ready();
      const live = await Promise.all(suite.pairs.slice(0, 3).map((pair) => openStream(suite.stream.url, pair)));
      await expectGauges(suite.stream.url, 3);

      await suite.stack.redis.stop();
      const stoppedAt = performance.now();
      const refusal = await refusedStream(suite.stream.url, suite.pairs[3]!, 503, 'DEPENDENCY_UNAVAILABLE');
      const lostMs = await Promise.all(live.map((client) => lockLostAfter(client, stoppedAt)));
      t.diagnostic(
        `Redis stopped: new stream refused (503) in ${refusal.elapsedMs.toFixed(1)} ms; live streams lock-lost after ${lostMs.map((ms) => ms.toFixed(0)).join(', ')} ms`,
      );
      assert.ok(refusal.elapsedMs < OUTAGE_ANSWER_MS, `503 took ${refusal.elapsedMs.toFixed(0)} ms`);
      for (const ms of lostMs) assert.ok(ms <= LOSS_DEADLINE_MS, `lock-lost after ${ms.toFixed(0)} ms`);
      await Promise.all(live.map((client) => client.close()));
      await gaugesSettle(suite.stream.url, 0);
      assert.equal((await request(suite.stream.url, 'GET', '/health/ready')).status, 503);

      await suite.stack.redis.start();
      await ready();
      await votingSettles(suite.stream.url, 1);
      const back = await openStream(suite.stream.url, suite.pairs[3]!);
      await expectGauges(suite.stream.url, 1);
      await back.close();
      await gaugesSettle(suite.stream.url, 0);
    });

    it('refuses a new stream with 503 within 1 s when Redis accepts connections but never answers', async (t) => {
      await ready();
      const live = await openStream(suite.stream.url, suite.pairs[4]!);
      suite.proxy.blackhole();
      const hungAt = performance.now();
      const refusal = await refusedStream(suite.stream.url, suite.pairs[5]!, 503, 'DEPENDENCY_UNAVAILABLE');
      const lostMs = await lockLostAfter(live, hungAt);
      t.diagnostic(
        `Redis hung: new stream refused (503) in ${refusal.elapsedMs.toFixed(0)} ms; live stream lock-lost after ${lostMs.toFixed(0)} ms`,
      );
      assert.ok(refusal.elapsedMs < OUTAGE_ANSWER_MS, `503 took ${refusal.elapsedMs.toFixed(0)} ms`);
      assert.ok(lostMs <= LOSS_DEADLINE_MS, `lock-lost after ${lostMs.toFixed(0)} ms`);
      await live.close();
      await gaugesSettle(suite.stream.url, 0);

      await suite.proxy.restore();
      await ready();
      const back = await openStream(suite.stream.url, suite.pairs[5]!);
      await back.close();
      await gaugesSettle(suite.stream.url, 0);
      // The lock held while Redis hung could not be released: it expires by itself.
      await eventually(async () => {
        assert.deepEqual(await suite.stack.keys('lock'), []);
        assert.deepEqual(await suite.stack.keys('launched'), []);
      }, FAST_LOCK_TTL_MS + 1000);
    });
  });
});
