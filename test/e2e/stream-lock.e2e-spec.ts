import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseClient } from '../support/sse-client.js';
import {
  expectGauges,
  expectRefusal,
  FAST_LOCK_TTL_MS,
  gaugesSettle,
  helloOf,
  openStream,
  openWhenFree,
  refusedStream,
  streamPath,
  streamSuite,
} from '../support/stream-stack.js';
import { eventually } from '@app/testing';

/** A page refresh may reconnect on another pod at once: the pair is free this soon after the client leaves. */
const HANDOVER_MS = 100;

describe('stream instances sharing one Redis', () => {
  const env = { STREAM_HEARTBEAT_MS: '200' };
  const suite = streamSuite('streamlock', { env, pods: ['stream-a', 'stream-b'] });

  it('streams a pair on exactly one instance and refuses it everywhere else with 409 PROFILE_IN_USE', async () => {
    const [a, b] = suite.streams;
    const [pair] = await suite.stack.createPairs(1);
    // Eight tabs race for one pair, alternately on both instances.
    const clients = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        SseClient.open(i % 2 === 0 ? a.url : b.url, streamPath(pair!), { keepMessageData: true }),
      ),
    );
    const winners = clients.filter((client) => client.streaming);
    assert.equal(winners.length, 1, `statuses: ${clients.map((client) => client.status).join(',')}`);
    for (const loser of clients.filter((client) => !client.streaming)) {
      await expectRefusal(loser, 409, 'PROFILE_IN_USE');
      await loser.close();
    }

    const [winner] = winners;
    const holder = winner!.url === a.url ? a : b;
    const other = holder === a ? b : a;
    assert.equal(winner!.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(winner!.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(winner!.headers['x-accel-buffering'], 'no');
    await winner!.waitUntil(
      () => winner!.messages >= 3 && winner!.comments >= 1,
      2000,
      'three messages and a heartbeat',
    );
    assert.match(
      winner!.bodyStart,
      /^retry: 1000\n\nid: \d+\.\d+-\d+\.[0-9a-f]{16}\nevent: hello\n/,
      'retry: first, then hello with the id the client starts at',
    );
    assert.equal(winner!.retry, 1000);
    assert.deepEqual(winner!.eventNames().slice(0, 4), ['hello', 'message', 'message', 'message']);
    const hello = helloOf(winner!);
    assert.equal(hello.pod, holder === a ? 'stream-a' : 'stream-b');
    assert.equal(hello.lockTtlMs, FAST_LOCK_TTL_MS);
    assert.ok(Number.isSafeInteger(hello.fencingToken) && hello.fencingToken >= 1);
    const message = winner!.events.find((event) => event.event === 'message')!;
    const data = JSON.parse(message.data);
    assert.deepEqual(Object.keys(data), ['host', 'seq', 'timestamp', 'payload']);
    assert.equal(data.host, hello.pod);
    assert.match(message.id ?? '', new RegExp(`^${data.seq}\\.0-0\\.[0-9a-f]{16}$`), 'id: <seq>.<entry>.<session>');
    assert.equal(data.payload.length, 256);
    assert.equal(winner!.gaps, 0);

    const record = await suite.stack.launchedRecord(pair!);
    assert.equal(record?.pod, hello.pod);
    assert.equal(record?.fencingToken, hello.fencingToken);
    await expectGauges(holder.url, 1, 'on the holder');
    await expectGauges(other.url, 0, 'on the other instance');

    // The same pair asked again while live: refused on both, the live stream untouched.
    for (const url of [holder.url, other.url]) {
      await refusedStream(url, pair!, 409, 'PROFILE_IN_USE');
    }
    assert.ok(!winner!.isClosed);
    await expectGauges(holder.url, 1, 'after the refusals');

    await winner!.close();
    await gaugesSettle(holder.url, 0);
  });

  it(`frees the pair for the other instance within ${HANDOVER_MS} ms of the client disconnecting`, async (t) => {
    const [a, b] = suite.streams;
    const [pair] = await suite.stack.createPairs(1);
    let previousToken = 0;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const first = await openStream(from.url, pair!);
      const firstToken = helloOf(first).fencingToken;
      assert.ok(firstToken > previousToken, 'fencing tokens only grow');
      await expectGauges(from.url, 1);

      const closedAt = performance.now();
      await first.close();
      const { client: second, attempts } = await openWhenFree(to.url, pair!, 2000);
      const handoverMs = performance.now() - closedAt;
      t.diagnostic(
        `${helloOf(first).pod} → ${helloOf(second).pod}: streaming again ${handoverMs.toFixed(1)} ms after the disconnect (${attempts} attempts)`,
      );
      assert.ok(handoverMs < HANDOVER_MS, `the pair was free only after ${handoverMs.toFixed(1)} ms`);

      previousToken = helloOf(second).fencingToken;
      assert.ok(previousToken > firstToken);
      assert.equal((await suite.stack.launchedRecord(pair!))?.fencingToken, previousToken);
      await expectGauges(to.url, 1);
      await gaugesSettle(from.url, 0);
      await second.close();
      await gaugesSettle(to.url, 0);
    }
    assert.deepEqual(await suite.stack.keys('lock'), []);
    assert.deepEqual(await suite.stack.keys('launched'), []);
  });

  it(`frees the pair within LOCK_TTL_MS + 1 s when the holder is SIGKILLed, and its launched record is gone`, async (t) => {
    const [, b] = suite.streams;
    const doomed = await suite.stack.startStream({ ...env, POD_NAME: 'stream-doomed' });
    const [pair] = await suite.stack.createPairs(1);
    const victim = await openStream(doomed.url, pair!);
    const { fencingToken } = helloOf(victim);
    assert.equal((await suite.stack.launchedRecord(pair!))?.pod, 'stream-doomed');
    await refusedStream(b.url, pair!, 409, 'PROFILE_IN_USE');

    doomed.child.kill('SIGKILL');
    const killedAt = performance.now();
    await victim.waitForClose(2000);
    assert.ok(!victim.eventNames().includes('reconnect'), 'a killed process says nothing');

    let recordGoneMs: number | undefined;
    const watchRecord = eventually(
      async () => {
        const record = await suite.stack.launchedRecord(pair!);
        assert.ok(record === null || record.fencingToken !== fencingToken, 'the dead holder’s record is still there');
        recordGoneMs = performance.now() - killedAt;
      },
      FAST_LOCK_TTL_MS + 2000,
      10,
    );
    const { client: successor, attempts } = await openWhenFree(b.url, pair!, FAST_LOCK_TTL_MS + 2000, 10);
    const freeMs = performance.now() - killedAt;
    await watchRecord;
    t.diagnostic(
      `after SIGKILL: pair free on another instance in ${freeMs.toFixed(0)} ms (${attempts} attempts), launched record gone in ${recordGoneMs!.toFixed(0)} ms (LOCK_TTL_MS ${FAST_LOCK_TTL_MS})`,
    );
    assert.ok(freeMs <= FAST_LOCK_TTL_MS + 1000, `free after ${freeMs.toFixed(0)} ms`);
    assert.ok(recordGoneMs! <= FAST_LOCK_TTL_MS + 1000, `record gone after ${recordGoneMs!.toFixed(0)} ms`);

    const next = helloOf(successor);
    assert.ok(next.fencingToken > fencingToken, 'the successor gets a larger fencing token');
    const record = await suite.stack.launchedRecord(pair!);
    assert.equal(record?.pod, 'stream-b');
    assert.equal(record?.fencingToken, next.fencingToken);
    await expectGauges(b.url, 1);
    await successor.close();
    await gaugesSettle(b.url, 0);
    await eventually(async () => assert.deepEqual(await suite.stack.keys('launched'), []), 1000);
  });
});
