import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { AppProcess } from '@app/testing';
import {
  FAST_LOCK_RENEW_MS,
  FAST_LOCK_TTL_MS,
  gaugesSettle,
  helloOf,
  openStream,
  type Pair,
  retryStream,
  streamSuite,
  votingSettles,
} from '../support/stream-stack.js';

/** How often the second pod's client asks for the pair while the first holds it. */
const RETRY_EVERY_MS = 25;

/**
 * A holder streams on pod A and a second pod B asks for the pair every 25 ms; `restart` kills -9
 * lock servers and restarts them empty. Returns what happened: B must get the pair only after A's
 * last event (overlap ≤ 0), with a larger fencing token.
 */
async function restartWhileHeld(
  t: TestContext,
  a: AppProcess,
  b: AppProcess,
  pair: Pair,
  restart: () => Promise<void>,
  what: string,
) {
  const holder = await openStream(a.url, pair);
  await holder.waitUntil(() => holder.messages >= 3, 3000, 'a few messages');
  const second = retryStream(b.url, pair, { pauseMs: RETRY_EVERY_MS });
  await new Promise((resolve) => setTimeout(resolve, 4 * RETRY_EVERY_MS));
  const restartAt = performance.now();
  await restart();
  const successor = await second.done;
  assert.ok(successor, 'the second pod got the pair in the end');
  const successorHelloAt = successor.events.find((event) => event.event === 'hello')!.at;
  await holder.waitForEnd(FAST_LOCK_TTL_MS + 2000);
  const lastHolderMessageAt = Math.max(...holder.events.filter((e) => e.event === 'message').map((e) => e.at));
  const overlapMs = lastHolderMessageAt - successorHelloAt;
  const before = helloOf(holder).fencingToken;
  const afterToken = helloOf(successor).fencingToken;
  const codes = [...new Set(second.refusals.map((r) => `${r.status} ${r.code}`))];
  t.diagnostic(
    `${what}: holder's last event ${(lastHolderMessageAt - restartAt).toFixed(0)} ms after the restart ` +
      `(${holder.eventNames().at(-1)}), second pod streaming after ${(successorHelloAt - restartAt).toFixed(0)} ms ` +
      `(${second.refusals.length} refusals: ${codes.join(', ')}); overlap ${overlapMs.toFixed(0)} ms; ` +
      `fencing token ${before} before, ${afterToken} after`,
  );
  assert.ok(overlapMs <= 0, `both pods streamed the pair for ${overlapMs.toFixed(0)} ms`);
  assert.equal(holder.eventNames().at(-1), 'lock-lost', 'the holder was told it lost the pair');
  assert.ok(afterToken > before, `fencing token ${afterToken} after ${before}`);
  assert.ok(successorHelloAt - restartAt >= FAST_LOCK_TTL_MS - 100, 'a restarted server voted within its lease');
  await holder.close();
  await successor.close();
  await Promise.all([gaugesSettle(a.url, 0), gaugesSettle(b.url, 0)]);
}

describe('the pair lock when lock servers restart empty (kill -9)', () => {
  describe('with one lock server', () => {
    const suite = streamSuite('lockrestart1', { pods: ['stream-a', 'stream-b'], pairs: 2 });

    it('never lets a second pod stream the pair while the holder still does, and tokens grow', async (t) => {
      const [a, b] = suite.streams;
      await restartWhileHeld(
        t,
        a,
        b,
        suite.pairs[0]!,
        async () => {
          await suite.stack.redis.stop('SIGKILL');
          await suite.stack.redis.start();
        },
        'the only lock server restarted empty',
      );
    });

    it('makes every pair wait one lease after the restart, then streams them again', async (t) => {
      const [a, b] = suite.streams;
      await Promise.all([votingSettles(a.url, 1), votingSettles(b.url, 1)]);
      await suite.stack.redis.stop('SIGKILL');
      await suite.stack.redis.start();
      const restartedAt = performance.now();
      // Counted out first (the pod may take a moment to see its connection drop on a busy host), then back in.
      await votingSettles(b.url, 0);
      await votingSettles(b.url, 1);
      const waited = performance.now() - restartedAt;
      t.diagnostic(
        `one lock server: pairs unavailable for ${(performance.now() - restartedAt).toFixed(0)} ms after its restart (lease ${FAST_LOCK_TTL_MS} ms)`,
      );
      assert.ok(waited >= FAST_LOCK_TTL_MS - 1000);
      const client = await openStream(b.url, suite.pairs[1]!);
      await client.close();
    });
  });

  describe('with three lock servers', () => {
    const suite = streamSuite('lockrestart3', { pods: ['stream-a', 'stream-b'], pairs: 2, lockServers: 3 });

    it('keeps the holder when one restarts empty: the second pod is refused with 409 throughout', async (t) => {
      const [a, b] = suite.streams;
      const holder = await openStream(a.url, suite.pairs[0]!);
      const second = retryStream(b.url, suite.pairs[0]!, { pauseMs: RETRY_EVERY_MS });
      await suite.lockServers[0]!.stop('SIGKILL');
      await suite.lockServers[0]!.start();
      // Past the restarted member's lease and a renewal: the holder renews on the other two.
      await new Promise((resolve) => setTimeout(resolve, FAST_LOCK_TTL_MS + 2 * FAST_LOCK_RENEW_MS));
      second.stop();
      const successor = await second.done;
      assert.equal(successor, undefined, 'nobody else got the pair');
      assert.ok(!holder.ended && !holder.eventNames().includes('lock-lost'), 'the holder kept streaming');
      const codes = [...new Set(second.refusals.map((r) => `${r.status} ${r.code}`))];
      t.diagnostic(
        `one of three restarted empty: holder kept streaming; ${second.refusals.length} refusals: ${codes.join(', ')}`,
      );
      assert.deepEqual(codes, ['409 PROFILE_IN_USE']);
      await holder.close();
      await gaugesSettle(a.url, 0);
    });

    it('never overlaps when two of three restart empty, and tokens grow', async (t) => {
      const [a, b] = suite.streams;
      await Promise.all([votingSettles(a.url, 3), votingSettles(b.url, 3)]);
      await restartWhileHeld(
        t,
        a,
        b,
        suite.pairs[1]!,
        async () => {
          await Promise.all([suite.lockServers[1]!.stop('SIGKILL'), suite.lockServers[2]!.stop('SIGKILL')]);
          await Promise.all([suite.lockServers[1]!.start(), suite.lockServers[2]!.start()]);
        },
        'two of three lock servers restarted empty',
      );
    });
  });
});
