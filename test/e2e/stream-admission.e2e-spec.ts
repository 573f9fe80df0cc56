import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it, type TestContext } from 'node:test';
import { type AppProcess, eventually } from '@app/testing';
import { SseClient } from '../support/sse-client.js';
import {
  expectGauges,
  expectRefusal,
  gaugesSettle,
  Metrics,
  openStream,
  type Pair,
  streamSuite,
} from '../support/stream-stack.js';

/** base must answer the binding check within 1.5 s (BASE_TIMEOUT_MS), or the stream is a 503. */
const BASE_DEADLINE_MS = 1500;

describe('stream admission: every refusal before any byte, as JSON', () => {
  // The stream reaches base through a proxy, so the test can make base refuse or hang.
  const suite = streamSuite('streamadmit', {
    proxy: 'base',
    pairs: 1,
    unboundPairs: 1,
  });
  let bound: Pair;
  let unbound: Pair;

  /**
   * Requests `path`, asserts the refusal and its count, checks the gauges still read the `open`
   * streams the test holds; returns the answer time.
   */
  const refused = async (path: string, status: number, code: string, reason: string, open = 0): Promise<number> => {
    const before = await Metrics.scrape(suite.stream.url);
    const started = performance.now();
    const client = await SseClient.open(suite.stream.url, path);
    await expectRefusal(client, status, code);
    const elapsedMs = performance.now() - started;
    await client.close();
    const now = await Metrics.scrape(suite.stream.url);
    assert.equal(
      now.value('stream_connections_rejected_total', { reason }) -
        before.value('stream_connections_rejected_total', { reason }),
      1,
      `counted as rejected for ${reason}`,
    );
    assert.deepEqual([now.active, now.locksHeld], [open, open], 'a refusal never changes the gauges');
    return elapsedMs;
  };

  before(() => {
    [bound] = suite.pairs as [Pair];
    [unbound] = suite.unboundPairs as [Pair];
  });

  it('answers 400 INVALID_ID for malformed ids', async () => {
    const id = randomUUID();
    await refused(`/stream/not-a-uuid/${id}`, 400, 'INVALID_ID', 'bad_request');
    await refused(`/stream/${id}/123`, 400, 'INVALID_ID', 'bad_request');
    await refused(`/stream/${id}/${id}x`, 400, 'INVALID_ID', 'bad_request');
  });

  it('answers 404 for an unknown user or profile', async () => {
    await refused(`/stream/${randomUUID()}/${bound.profileId}`, 404, 'USER_NOT_FOUND', 'not_found');
    await refused(`/stream/${bound.userId}/${randomUUID()}`, 404, 'PROFILE_NOT_FOUND', 'not_found');
  });

  it('answers 403 NOT_BOUND for a user and a profile that exist but are not bound', async () => {
    await refused(`/stream/${unbound.userId}/${unbound.profileId}`, 403, 'NOT_BOUND', 'not_bound');
    await refused(`/stream/${bound.userId}/${unbound.profileId}`, 403, 'NOT_BOUND', 'not_bound');
    assert.deepEqual(await suite.stack.keys('lock'), [], 'no lock is taken for a refused pair');
  });

  it('treats ids case-insensitively: one pair, one stream', async () => {
    const upper = await openStream(suite.stream.url, {
      userId: bound.userId.toUpperCase(),
      profileId: bound.profileId.toUpperCase(),
    });
    await refused(`/stream/${bound.userId}/${bound.profileId}`, 409, 'PROFILE_IN_USE', 'in_use', 1);
    await expectGauges(suite.stream.url, 1);
    await upper.close();
    await gaugesSettle(suite.stream.url, 0);
  });

  describe('when base is down', () => {
    const expectBaseOutage = async (t: TestContext, what: string, deadlineMs: number) => {
      const ms = await refused(
        `/stream/${bound.userId}/${bound.profileId}`,
        503,
        'DEPENDENCY_UNAVAILABLE',
        'unavailable',
      );
      t.diagnostic(`base ${what}: 503 in ${ms.toFixed(1)} ms`);
      assert.ok(ms < deadlineMs, `503 took ${ms.toFixed(0)} ms`);
      assert.deepEqual(await suite.stack.keys('lock'), []);
    };

    it('answers 503 with Retry-After at once when base refuses connections', async (t) => {
      await suite.proxy.refuse();
      await expectBaseOutage(t, 'refusing connections', 1000);
      await expectBaseOutage(t, 'refusing connections (again)', 1000);
    });

    it('answers 503 with Retry-After within the base deadline when base hangs', async (t) => {
      await suite.proxy.restore();
      suite.proxy.blackhole();
      await expectBaseOutage(t, 'hanging', BASE_DEADLINE_MS + 1000);
    });

    it('streams again once base is back', async () => {
      await suite.proxy.restore();
      const client = await eventually(() => openStream(suite.stream.url, bound), 3000, 100);
      await expectGauges(suite.stream.url, 1);
      await client.close();
      await gaugesSettle(suite.stream.url, 0);
    });
  });

  describe('when the pod is full', () => {
    let small: AppProcess;
    let pairs: Pair[];

    before(async () => {
      [small, pairs] = await Promise.all([
        suite.stack.startStream({
          STREAM_MAX_CONNECTIONS: '2',
          POD_NAME: 'stream-small',
        }),
        suite.stack.createPairs(3),
      ]);
    });

    it('answers 503 POD_FULL with Retry-After at STREAM_MAX_CONNECTIONS, and admits again when a stream ends', async () => {
      const first = await openStream(small.url, pairs[0]!);
      const second = await openStream(small.url, pairs[1]!);
      await expectGauges(small.url, 2);
      const full = await SseClient.open(small.url, `/stream/${pairs[2]!.userId}/${pairs[2]!.profileId}`);
      await expectRefusal(full, 503, 'POD_FULL');
      await full.close();
      assert.equal((await Metrics.scrape(small.url)).value('stream_connections_rejected_total', { reason: 'full' }), 1);
      await expectGauges(small.url, 2);

      await first.close();
      await gaugesSettle(small.url, 1);
      const third = await openStream(small.url, pairs[2]!);
      await expectGauges(small.url, 2);
      await Promise.all([second.close(), third.close()]);
      await gaugesSettle(small.url, 0);
    });
  });
});
